package httpapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// chain is a listener's full middleware stack around rt.
func chain(rt http.Handler, forwarded, compress bool) http.Handler {
	b := &BoundListener{Listener: Listener{Name: "test", Handler: rt, XForwarded: forwarded, Compress: compress}}
	return b.handler(discardLogger())
}

func decodeError(t *testing.T, body io.Reader) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.NewDecoder(body).Decode(&m); err != nil {
		t.Fatalf("error body is not JSON: %v", err)
	}
	return m
}

func TestUnknownEndpointsAnswerMatrixErrors(t *testing.T) {
	rt := NewRouter()
	rt.Handle(http.MethodGet, "/_matrix/client/versions", func(w http.ResponseWriter, r *http.Request) error {
		WriteJSON(w, http.StatusOK, map[string]any{})
		return nil
	})
	h := chain(rt, false, false)

	tests := []struct {
		name, method, path string
		status             int
	}{
		{"unknown path", http.MethodGet, "/_matrix/client/v3/nope", http.StatusNotFound},
		{"root of matrix", http.MethodGet, "/_matrix/", http.StatusNotFound},
		{"wrong method", http.MethodDelete, "/_matrix/client/versions", http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type %q", ct)
			}
			body := decodeError(t, rec.Body)
			if body["errcode"] != "M_UNRECOGNIZED" || body["error"] == "" {
				t.Fatalf("body %v", body)
			}
		})
	}
}

func TestHeadIsServedByGet(t *testing.T) {
	rt := NewRouter()
	rt.Handle(http.MethodGet, "/x", func(w http.ResponseWriter, r *http.Request) error {
		WriteJSON(w, http.StatusOK, map[string]any{"a": 1})
		return nil
	})
	rec := httptest.NewRecorder()
	rt.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/x", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("HEAD status %d", rec.Code)
	}
}

func TestPathValuesReachHandlers(t *testing.T) {
	rt := NewRouter()
	var got string
	rt.Handle(http.MethodGet, "/_matrix/client/v3/rooms/{roomId}/event/{eventId}", func(w http.ResponseWriter, r *http.Request) error {
		got = r.PathValue("eventId")
		return nil
	})
	// Room v3 event IDs contain '/', which clients escape as %2F.
	rt.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/_matrix/client/v3/rooms/!r:x/event/$ab%2Fcd", nil))
	if got != "$ab/cd" {
		t.Fatalf("eventId = %q, want $ab/cd", got)
	}
}

func TestCORS(t *testing.T) {
	h := chain(NewRouter(), false, false)
	t.Run("preflight on any path", func(t *testing.T) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodOptions, "/_matrix/client/v3/rooms/!a:b/send/m.room.message/1", nil)
		req.Header.Set("Origin", "https://app.element.io")
		req.Header.Set("Access-Control-Request-Method", "PUT")
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNoContent {
			t.Fatalf("OPTIONS status %d, want 204", rec.Code)
		}
		checkCORSHeaders(t, rec.Header())
	})
	t.Run("on errors too", func(t *testing.T) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/_matrix/nothing", nil))
		checkCORSHeaders(t, rec.Header())
	})
}

func checkCORSHeaders(t *testing.T, h http.Header) {
	t.Helper()
	want := map[string]string{
		"Access-Control-Allow-Origin":  "*",
		"Access-Control-Allow-Methods": "GET, HEAD, POST, PUT, DELETE, OPTIONS",
		"Access-Control-Allow-Headers": "X-Requested-With, Content-Type, Authorization, Date",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestDecodeJSON(t *testing.T) {
	type body struct {
		Name string `json:"name"`
	}
	tests := []struct {
		name    string
		body    string
		errcode string
		status  int
	}{
		{"valid", `{"name":"x"}`, "", 0},
		{"not json", `{"name":`, "M_NOT_JSON", 400},
		{"empty", ``, "M_NOT_JSON", 400},
		{"invalid UTF-8", "{\"name\":\"\xff\xfe\"}", "M_NOT_JSON", 400},
		{"array", `[1,2]`, "M_BAD_JSON", 400},
		{"wrong type", `{"name":5}`, "M_BAD_JSON", 400},
		{"too large", `{"name":"` + strings.Repeat("a", MaxJSONBody) + `"}`, "M_TOO_LARGE", 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b body
			err := DecodeJSON(httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.body)), &b)
			if tt.errcode == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			mx, ok := err.(*Error)
			if !ok || mx.Code != tt.errcode || mx.Status != tt.status {
				t.Fatalf("err = %v, want %s/%d", err, tt.errcode, tt.status)
			}
		})
	}
}

func TestInternalErrorsDoNotLeak(t *testing.T) {
	rt := NewRouter()
	rt.Handle(http.MethodGet, "/boom", func(w http.ResponseWriter, r *http.Request) error {
		return io.ErrUnexpectedEOF
	})
	rec := httptest.NewRecorder()
	chain(rt, false, false).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/boom", nil))
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "EOF") {
		t.Fatalf("got %d %s", rec.Code, rec.Body)
	}
}

func TestPanicsBecome500(t *testing.T) {
	rt := NewRouter()
	rt.Handle(http.MethodGet, "/panic", func(w http.ResponseWriter, r *http.Request) error { panic("bug") })
	rec := httptest.NewRecorder()
	chain(rt, false, false).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/panic", nil))
	if rec.Code != 500 || decodeError(t, rec.Body)["errcode"] != "M_UNKNOWN" {
		t.Fatalf("got %d", rec.Code)
	}
}

func TestForwardedHeadersOnlyWhenTrusted(t *testing.T) {
	var seen RequestInfo
	rt := NewRouter()
	rt.Handle(http.MethodGet, "/ip", func(w http.ResponseWriter, r *http.Request) error {
		seen = *Info(r.Context())
		return nil
	})
	req := func() *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/ip", nil)
		r.RemoteAddr = "10.0.0.1:1234"
		r.Header.Set("X-Forwarded-For", "203.0.113.7, 10.0.0.1")
		r.Header.Set("X-Forwarded-Proto", "https")
		return r
	}
	chain(rt, false, false).ServeHTTP(httptest.NewRecorder(), req())
	if seen.ClientIP != "10.0.0.1" || seen.Scheme != "http" {
		t.Fatalf("untrusted listener used forwarded headers: %+v", seen)
	}
	chain(rt, true, false).ServeHTTP(httptest.NewRecorder(), req())
	if seen.ClientIP != "203.0.113.7" || seen.Scheme != "https" {
		t.Fatalf("x_forwarded listener ignored headers: %+v", seen)
	}
}

func TestRedactPath(t *testing.T) {
	u, _ := url.Parse("/_matrix/client/v3/sync?access_token=secret&since=s1")
	got := RedactPath(u)
	if strings.Contains(got, "secret") || !strings.Contains(got, "since=s1") {
		t.Fatalf("RedactPath = %q", got)
	}
}

func TestCompression(t *testing.T) {
	rt := NewRouter()
	payload := strings.Repeat("matrix ", 200)
	rt.Handle(http.MethodGet, "/big", func(w http.ResponseWriter, r *http.Request) error {
		WriteJSON(w, http.StatusOK, map[string]string{"p": payload})
		return nil
	})
	h := chain(rt, false, true)
	req := httptest.NewRequest(http.MethodGet, "/big", nil)
	req.Header.Set("Accept-Encoding", "gzip, deflate")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Header().Get("Content-Encoding") != "gzip" {
		t.Fatal("response not compressed")
	}
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := json.NewDecoder(zr).Decode(&got); err != nil || got["p"] != payload {
		t.Fatalf("decompressed body wrong: %v", err)
	}

	plain := httptest.NewRecorder()
	h.ServeHTTP(plain, httptest.NewRequest(http.MethodGet, "/big", nil))
	if plain.Header().Get("Content-Encoding") != "" {
		t.Fatal("compressed for a client that did not ask")
	}
}

func TestGracefulShutdownFinishesInFlightRequests(t *testing.T) {
	started := make(chan struct{})
	rt := NewRouter()
	rt.Handle(http.MethodGet, "/slow", func(w http.ResponseWriter, r *http.Request) error {
		close(started)
		time.Sleep(300 * time.Millisecond)
		WriteJSON(w, http.StatusOK, map[string]string{"done": "yes"})
		return nil
	})
	b, err := Bind(Listener{Name: "t", BindAddresses: []string{"127.0.0.1"}, Handler: rt}, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + b.Addrs()[0].String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, discardLogger(), []*BoundListener{b}) }()

	type result struct {
		body []byte
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get(url + "/slow")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		got <- result{body, err}
	}()
	<-started
	cancel() // like SIGTERM while the request runs

	r := <-got
	if r.err != nil || !bytes.Contains(r.body, []byte(`"done":"yes"`)) {
		t.Fatalf("in-flight request cut off: %v %s", r.err, r.body)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := http.Get(url + "/slow"); err == nil {
		t.Fatal("server still accepts connections after shutdown")
	}
}

func TestBindRejectsNonIP(t *testing.T) {
	if _, err := Bind(Listener{Name: "t", BindAddresses: []string{"example.com"}}, discardLogger()); err == nil {
		t.Fatal("hostname accepted as bind address")
	}
}

func TestIPv4AndIPv6WildcardsShareAPort(t *testing.T) {
	b, err := Bind(Listener{Name: "t", BindAddresses: []string{"127.0.0.1"}}, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	port := b.Addrs()[0].(*net.TCPAddr).Port
	b.Close()
	both, err := Bind(Listener{Name: "t", BindAddresses: []string{"::1", "127.0.0.1"}, Port: port}, discardLogger())
	if err != nil {
		t.Fatalf("binding ::1 and 127.0.0.1 on one port: %v", err)
	}
	both.Close()
}
