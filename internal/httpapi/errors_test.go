package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// A request its client abandoned is no server error: nothing is logged
// as one, and no 500 is sent.
func TestWriteErrorForAbandonedRequest(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := httptest.NewRecorder()
	WriteError(rec, httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx), fmt.Errorf("sync: %w", context.Canceled))
	if rec.Code != StatusClientClosedRequest || rec.Body.Len() != 0 {
		t.Fatalf("abandoned: %d %q", rec.Code, rec.Body)
	}
	// A cancellation while the client still waits is an error like others.
	rec = httptest.NewRecorder()
	WriteError(rec, httptest.NewRequest(http.MethodGet, "/", nil), fmt.Errorf("sync: %w", context.Canceled))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("not abandoned: %d", rec.Code)
	}
}
