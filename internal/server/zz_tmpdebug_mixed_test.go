//go:build goolm

package server_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/axonhs/axon/internal/server/servertest"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

type dumpRT struct {
	t    *testing.T
	next http.RoundTripper
}

func (d dumpRT) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := d.next.RoundTrip(req)
	if err != nil || !(strings.Contains(req.URL.Path, "sync") || strings.Contains(req.URL.Path, "keys/")) {
		return resp, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(b))
	d.t.Logf("DUMP %s %s?%s req=%s\n  resp=%s", req.Method, req.URL.Path, req.URL.RawQuery, reqBody, b)
	return resp, err
}

func TestTmpDebugMixed(t *testing.T) {
	node, story := jsStoryCommand(t)
	engine := storagetest.Engines()[0]
	srv := servertest.Start(t, servertest.Config(t, engine))
	debugHook = func(c *e2eeClient) { c.cli.Client.Transport = dumpRT{t: t, next: c.cli.Client.Transport} }
	defer func() { debugHook = nil }()
	mixedE2EEStory(t, srv.URL, node, story)
}
