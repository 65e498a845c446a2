package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
)

// Error is a Matrix error response: an errcode, a message and the HTTP
// status it is sent with. Handlers return it; WriteError encodes it.
type Error struct {
	Status  int
	Code    string
	Message string
	// Extra fields merged into the JSON body (e.g. retry_after_ms).
	Extra map[string]any
}

func (e *Error) Error() string { return fmt.Sprintf("%s (%d): %s", e.Code, e.Status, e.Message) }

// MarshalJSON encodes the Matrix error envelope.
func (e *Error) MarshalJSON() ([]byte, error) {
	body := make(map[string]any, len(e.Extra)+2)
	for k, v := range e.Extra {
		body[k] = v
	}
	body["errcode"] = e.Code
	body["error"] = e.Message
	return json.Marshal(body)
}

// Constructors for the errors every endpoint can produce.

func Unrecognized() *Error {
	return &Error{Status: http.StatusNotFound, Code: "M_UNRECOGNIZED", Message: "Unrecognized request"}
}

func MethodNotAllowed() *Error {
	return &Error{Status: http.StatusMethodNotAllowed, Code: "M_UNRECOGNIZED", Message: "Unrecognized request"}
}

func NotJSON(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "M_NOT_JSON", Message: msg}
}

func BadJSON(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "M_BAD_JSON", Message: msg}
}

func TooLarge(msg string) *Error {
	return &Error{Status: http.StatusRequestEntityTooLarge, Code: "M_TOO_LARGE", Message: msg}
}

func Forbidden(msg string) *Error {
	return &Error{Status: http.StatusForbidden, Code: "M_FORBIDDEN", Message: msg}
}

func NotFound(msg string) *Error {
	return &Error{Status: http.StatusNotFound, Code: "M_NOT_FOUND", Message: msg}
}

func InvalidParam(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "M_INVALID_PARAM", Message: msg}
}

func MissingParam(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "M_MISSING_PARAM", Message: msg}
}

func Unknown(status int, msg string) *Error {
	return &Error{Status: status, Code: "M_UNKNOWN", Message: msg}
}

// JSONAppender is a value that writes its own JSON, faster than
// encoding/json would (see syncer.Response).
type JSONAppender interface {
	AppendJSON(dst []byte) []byte
}

// appendBuffers recycles the buffers JSONAppenders write into: a /sync
// body is tens of kilobytes, grown piece by piece.
var appendBuffers = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledBuffer keeps one huge response from pinning its buffer.
const maxPooledBuffer = 1 << 20

// WriteJSON sends v as a JSON body with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	var body []byte
	var err error
	if a, ok := v.(JSONAppender); ok {
		buf := appendBuffers.Get().(*[]byte)
		body = a.AppendJSON((*buf)[:0])
		defer func() {
			if cap(body) <= maxPooledBuffer {
				*buf = body
				appendBuffers.Put(buf)
			}
		}()
	} else {
		body, err = json.Marshal(v)
	}
	if err != nil {
		// A value we built ourselves failed to encode: a programming error.
		slog.Error("encode response", "err", err)
		status = http.StatusInternalServerError
		body = []byte(`{"errcode":"M_UNKNOWN","error":"Internal server error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	// With its length known, a large body goes out unchunked.
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// StatusClientClosedRequest is logged for requests the client abandoned.
const StatusClientClosedRequest = 499

// WriteError sends err as a Matrix error. Errors that are not *Error are
// logged and reported as an opaque 500 so internals never leak to clients.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away (say, from a long-poll): no one reads an
		// answer, and it is no server error. 499 is what Synapse and nginx
		// log for it.
		w.WriteHeader(StatusClientClosedRequest)
		return
	}
	var mxErr *Error
	if !errors.As(err, &mxErr) {
		slog.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", RedactPath(r.URL), "err", err)
		mxErr = Unknown(http.StatusInternalServerError, "Internal server error")
	}
	setRetryAfter(w, mxErr)
	WriteJSON(w, mxErr.Status, mxErr)
}
