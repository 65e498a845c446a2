package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestLimitExceeded(t *testing.T) {
	for _, tc := range []struct {
		wait       time.Duration
		ms         float64 // 0: absent
		retryAfter string  // "": absent
	}{
		{5882352941 * time.Nanosecond, 5883, "6"}, // 1/0.17 s
		{10 * time.Second, 10000, "10"},
		{1500 * time.Microsecond, 2, "1"}, // both rounded up, never 0
		{time.Nanosecond, 1, "1"},
		{0, 0, ""}, // a limit that never refills: no promise to make
	} {
		rt := NewRouter()
		rt.Handle(http.MethodPost, "/login", func(w http.ResponseWriter, r *http.Request) error {
			return LimitExceeded(tc.wait)
		})
		rec := httptest.NewRecorder()
		chain(rt, false, false).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/login", nil))
		if rec.Code != http.StatusTooManyRequests {
			t.Fatalf("%v: status %d", tc.wait, rec.Code)
		}
		body := decodeError(t, rec.Body)
		if body["errcode"] != "M_LIMIT_EXCEEDED" || body["error"] == "" {
			t.Errorf("%v: body %v", tc.wait, body)
		}
		if got, _ := body["retry_after_ms"].(float64); got != tc.ms {
			t.Errorf("%v: retry_after_ms = %v, want %v", tc.wait, body["retry_after_ms"], tc.ms)
		}
		if got := rec.Header().Get("Retry-After"); got != tc.retryAfter {
			t.Errorf("%v: Retry-After = %q, want %q", tc.wait, got, tc.retryAfter)
		}
	}
}

// Any 429 built by hand with retry_after_ms gets the header too.
func TestRetryAfterFromHandBuiltError(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteError(rec, httptest.NewRequest(http.MethodGet, "/", nil),
		&Error{Status: http.StatusTooManyRequests, Code: "M_LIMIT_EXCEEDED", Extra: map[string]any{"retry_after_ms": 2001}})
	if got := rec.Header().Get("Retry-After"); got != "3" {
		t.Errorf("Retry-After = %q", got)
	}
	rec = httptest.NewRecorder()
	WriteError(rec, httptest.NewRequest(http.MethodGet, "/", nil), Forbidden("no"))
	if got := rec.Header().Get("Retry-After"); got != "" {
		t.Errorf("Retry-After on a 403: %q", got)
	}
}
