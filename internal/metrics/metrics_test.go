package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestObserveAndServe(t *testing.T) {
	r := New()
	r.ObserveRequest("http:8008", "GET", "/_matrix/client/versions", 200, 3*time.Millisecond)
	r.ObserveRequest("http:8008", "BREW", "", 404, time.Millisecond)

	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/_synapse/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`axon_http_requests_total{code="200",listener="http:8008",method="GET",route="/_matrix/client/versions"} 1`,
		`axon_http_requests_total{code="404",listener="http:8008",method="OTHER",route="unmatched"} 1`,
		"go_goroutines",
		"process_resident_memory_bytes",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
