package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
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
	node := os.Getenv(envTestNode)
	if node == "" {
		t.Skipf("%s is not set: ./scripts/test sets it; by hand, set it to the Node that scripts/e2e-js-setup prints", envTestNode)
	}
	story, err := filepath.Abs(filepath.Join("..", "..", "e2e", "js", "story.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv := servertest.Start(t, servertest.Config(t, engine))
			runJSStory(t, node, story, "pair", "--hs", srv.URL, "--secret", servertest.SharedSecret)
		})
	}
}

// jsProgress is one progress line of story.mjs.
type jsProgress struct {
	Step  string `json:"step"`
	OK    bool   `json:"ok"`
	Error string `json:"error"`
	After string `json:"after"`
}

// runJSStory runs story.mjs with args and fails t unless the story ends with
// its "done" line and exit status 0. The story bounds its own run (--timeout);
// the context is a backstop should Node itself hang.
func runJSStory(t *testing.T, node, story string, args ...string) {
	t.Helper()
	const storyTimeout = 180 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), storyTimeout+30*time.Second)
	defer cancel()
	args = append([]string{story}, append(args, "--timeout", strconv.Itoa(int(storyTimeout.Seconds())))...)
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = filepath.Dir(story)
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", node, err)
	}

	var last jsProgress
	lines := bufio.NewScanner(stdout)
	lines.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for lines.Scan() {
		t.Logf("story: %s", lines.Bytes())
		last = jsProgress{}
		if err := json.Unmarshal(lines.Bytes(), &last); err != nil {
			t.Errorf("story printed a line that is not JSON: %v", err)
		}
	}
	waitErr := cmd.Wait()
	if waitErr == nil && last.Step == "done" && last.OK {
		return
	}
	t.Logf("story stderr (last 8 KiB):\n%s", lastBytes(stderr.Bytes(), 8<<10))
	switch {
	case last.Step == "failed":
		t.Fatalf("js-sdk story failed after step %q: %s", last.After, last.Error)
	case waitErr != nil:
		t.Fatalf("js-sdk story: %v (last step %q)", waitErr, last.Step)
	default:
		t.Fatalf("js-sdk story exited 0 without its done line (last step %q)", last.Step)
	}
}

func lastBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
