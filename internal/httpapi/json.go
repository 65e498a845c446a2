package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"unicode/utf8"
)

// MaxJSONBody bounds every JSON request body. Matrix events are at most
// 64 KiB, but key uploads and key-backup batches are legitimately larger;
// 10 MiB leaves room for those while refusing memory-exhaustion attempts.
const MaxJSONBody = 10 << 20

// DecodeJSON reads the request body into v, answering the Matrix errors
// for oversized bodies (M_TOO_LARGE), bodies that are not JSON (M_NOT_JSON)
// and JSON of the wrong shape (M_BAD_JSON).
func DecodeJSON(r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxJSONBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return TooLarge(fmt.Sprintf("Request body exceeds %d bytes", MaxJSONBody))
		}
		return fmt.Errorf("read request body: %w", err)
	}
	return UnmarshalBody(body, v)
}

// UnmarshalBody decodes an already-read body with DecodeJSON's errors.
func UnmarshalBody(body []byte, v any) error {
	// encoding/json silently replaces invalid UTF-8 with U+FFFD; JSON must
	// be UTF-8, and storing altered strings would corrupt signed data.
	if !utf8.Valid(body) || !json.Valid(body) {
		return NotJSON("Content not JSON.")
	}
	if trimmed := bytes.TrimSpace(body); len(trimmed) == 0 || trimmed[0] != '{' {
		return BadJSON("Request body must be a JSON object")
	}
	if err := json.Unmarshal(body, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return BadJSON(fmt.Sprintf("%s: expected %s, got %s", typeErr.Field, typeErr.Type, typeErr.Value))
		}
		return BadJSON(err.Error())
	}
	return nil
}
