package httpapi

import "net/http"

// RegisterHealth adds /health, which load balancers and Docker health checks
// poll; Synapse answers it on every listener.
func RegisterHealth(rt *Router) {
	rt.HandleHTTP("/health", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache, no-store, must-revalidate")
		_, _ = w.Write([]byte("OK"))
	}))
}
