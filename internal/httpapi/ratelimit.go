package httpapi

import (
	"net/http"
	"strconv"
	"time"
)

// LimitExceeded is the error for a request refused by a rate limit: 429
// M_LIMIT_EXCEEDED with retry_after_ms in the body. WriteError adds the
// Retry-After header the spec asks for on every 429 (since v1.10), in whole
// seconds rounded up, so a client that obeys either hint is not refused
// again for retrying too early:
//
//	if ok, wait := limiter.Allow(ip); !ok {
//		return httpapi.LimitExceeded(wait)
//	}
//
// A retryAfter of 0 or less (a limit that never refills) omits both hints.
func LimitExceeded(retryAfter time.Duration) *Error {
	e := &Error{Status: http.StatusTooManyRequests, Code: "M_LIMIT_EXCEEDED", Message: "Too Many Requests"}
	if retryAfter > 0 {
		ms := (retryAfter + time.Millisecond - 1) / time.Millisecond
		e.Extra = map[string]any{"retry_after_ms": int64(ms)}
	}
	return e
}

// setRetryAfter sets the Retry-After header of a 429 from its
// retry_after_ms, rounded up to whole seconds.
func setRetryAfter(w http.ResponseWriter, e *Error) {
	if e.Status != http.StatusTooManyRequests {
		return
	}
	var ms int64
	switch v := e.Extra["retry_after_ms"].(type) {
	case int64:
		ms = v
	case int:
		ms = int64(v)
	default:
		return
	}
	if ms > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt((ms+999)/1000, 10))
	}
}
