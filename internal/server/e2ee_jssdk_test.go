package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/axonhs/axon/internal/server/servertest"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

// envTestNode names the Node binary (22 or later) that runs e2e/js;
// ./scripts/test sets it to what scripts/e2e-js-setup prints.
const envTestNode = "AXON_TEST_NODE"

// TestE2EEWithMatrixJSSDK plays e2e/js's pair story with Element's own
// crypto stack (matrix-js-sdk with the Rust crypto) against Axon: cross-signing
// and key backup bootstrapped, messages encrypted both ways and decrypted,
// and a new device that signs itself from secret storage, restores the room
// keys from the backup and decrypts the history. The story is in
// e2e/js/story.mjs; each of its progress lines is logged.
func TestE2EEWithMatrixJSSDK(t *testing.T) {
	node, story := jsStoryCommand(t)
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv := servertest.Start(t, servertest.Config(t, engine))
			runJSStory(t, node, story, "pair", "--hs", srv.URL, "--secret", servertest.SharedSecret)
		})
	}
}

// jsStoryCommand returns the Node binary and the path of e2e/js/story.mjs,
// skipping t when envTestNode is unset.
func jsStoryCommand(t *testing.T) (node, story string) {
	t.Helper()
	node = os.Getenv(envTestNode)
	if node == "" {
		t.Skipf("%s is not set: ./scripts/test sets it; by hand, set it to the Node that scripts/e2e-js-setup prints", envTestNode)
	}
	story, err := filepath.Abs(filepath.Join("..", "..", "e2e", "js", "story.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	return node, story
}

// jsProgress is one progress line of story.mjs. Besides step, the fields
// are those some steps carry (the peer role's ready, received and replied).
type jsProgress struct {
	Step     string `json:"step"`
	OK       bool   `json:"ok"`
	Error    string `json:"error"`
	After    string `json:"after"`
	UserID   string `json:"user_id"`
	DeviceID string `json:"device_id"`
	RoomID   string `json:"room_id"`
	EventID  string `json:"event_id"`
	Sender   string `json:"sender"`

	line string // as printed, for the log
}

// jsStoryTimeout is what story.mjs is given as its --timeout; the context
// that kills Node allows a little more, as a backstop should Node hang.
const jsStoryTimeout = 180 * time.Second

// jsStory is a running story.mjs. Its progress lines arrive on lines, each
// logged by whoever takes it; done closes once Node has exited, after the
// last line, and only then are waitErr and stderr safe to read.
type jsStory struct {
	lines   chan jsProgress
	done    chan struct{}
	waitErr error
	stderr  bytes.Buffer
	last    jsProgress // the last line taken from lines
	cancel  context.CancelFunc
}

// startJSStory starts story.mjs with args. Node is killed at the latest when
// t ends: t's cleanup stops it, logs the lines nobody took, and, if t
// failed, the end of its stderr.
func startJSStory(t *testing.T, node, story string, args ...string) *jsStory {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), jsStoryTimeout+30*time.Second)
	args = append([]string{story}, append(args, "--timeout", strconv.Itoa(int(jsStoryTimeout.Seconds())))...)
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = filepath.Dir(story)
	cmd.WaitDelay = 5 * time.Second
	s := &jsStory{lines: make(chan jsProgress), done: make(chan struct{}), cancel: cancel}
	cmd.Stderr = &s.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", node, err)
	}
	go s.read(cmd, stdout)
	t.Cleanup(func() { s.stop(t) })
	return s
}

// read passes stdout's lines on until it ends, then waits for Node: Wait
// closes the pipe, so it must come after the last read.
func (s *jsStory) read(cmd *exec.Cmd, stdout io.Reader) {
	defer close(s.done)
	defer close(s.lines)
	lines := bufio.NewScanner(stdout)
	lines.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for lines.Scan() {
		p := jsProgress{line: lines.Text()}
		if err := json.Unmarshal(lines.Bytes(), &p); err != nil {
			p = jsProgress{Step: "not JSON", Error: err.Error(), line: lines.Text()}
		}
		s.lines <- p
	}
	// A scanner error (a line over 1 MiB) leaves Node blocked on a full
	// pipe; the context ends it.
	s.waitErr = cmd.Wait()
}

// next returns the next progress line, logging it, or false once the
// output has ended.
func (s *jsStory) next(t *testing.T) (jsProgress, bool) {
	t.Helper()
	p, ok := <-s.lines
	if ok {
		t.Logf("story: %s", p.line)
		s.last = p
	}
	return p, ok
}

// expect takes lines until one with step and returns it. It fails t if the
// story fails or ends first, or prints a line that is not JSON. The story's
// own step timeout bounds the wait.
func (s *jsStory) expect(t *testing.T, step string) jsProgress {
	t.Helper()
	for {
		p, ok := s.next(t)
		switch {
		case !ok:
			<-s.done
			t.Fatalf("js-sdk story ended (%v) before step %q; last step %q", s.waitErr, step, s.last.Step)
		case p.Step == step:
			return p
		case p.Step == "failed":
			t.Fatalf("js-sdk story failed after step %q, waiting for %q: %s", p.After, step, p.Error)
		case p.Step == "not JSON":
			t.Fatalf("js-sdk story printed a line that is not JSON: %s", p.Error)
		}
	}
}

// finish reads the story to its end and fails t unless its last line is
// the done line and Node exits with status 0.
func (s *jsStory) finish(t *testing.T) {
	t.Helper()
	notJSON := false
	for {
		p, ok := s.next(t)
		if !ok {
			break
		}
		notJSON = notJSON || p.Step == "not JSON"
	}
	<-s.done
	last := s.last
	switch {
	case notJSON:
		t.Fatalf("js-sdk story printed a line that is not JSON")
	case last.Step == "failed":
		t.Fatalf("js-sdk story failed after step %q: %s", last.After, last.Error)
	case s.waitErr != nil:
		t.Fatalf("js-sdk story: %v (last step %q)", s.waitErr, last.Step)
	case last.Step != "done" || !last.OK:
		t.Fatalf("js-sdk story exited 0 without its done line (last step %q)", last.Step)
	}
}

// stop kills Node unless it has exited, logs what it printed that nobody
// took and, when t failed, the end of its stderr (with --trace, its HTTP
// requests).
func (s *jsStory) stop(t *testing.T) {
	s.cancel()
	for p := range s.lines {
		t.Logf("story: %s", p.line)
	}
	<-s.done
	if t.Failed() {
		t.Logf("story exit: %v; stderr (last 16 KiB):\n%s", s.waitErr, lastBytes(s.stderr.Bytes(), 16<<10))
	}
}

// runJSStory runs story.mjs with args to its end and fails t unless the
// story ends with its "done" line and exit status 0.
func runJSStory(t *testing.T, node, story string, args ...string) {
	t.Helper()
	startJSStory(t, node, story, args...).finish(t)
}

func lastBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
