package httpapi

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"
)

// CORS adds the headers Synapse sends on every response and answers
// preflight OPTIONS requests for any path, so browser clients (Element Web)
// can reach every endpoint.
func CORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, DELETE, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "X-Requested-With, Content-Type, Authorization, Date")
		h.Set("Access-Control-Expose-Headers", "Server")
		if r.Method == http.MethodOptions {
			h.Set("Content-Length", "0")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

type requestInfoKey struct{}

// RequestInfo is what the plumbing learns about a request that handlers and
// the access log need: the client's address and, later, who made it.
type RequestInfo struct {
	ClientIP string
	Scheme   string
	// User is filled in by authentication so the access log can name it.
	User string
}

// Info returns the request's RequestInfo; never nil inside the middleware chain.
func Info(ctx context.Context) *RequestInfo {
	if ri, ok := ctx.Value(requestInfoKey{}).(*RequestInfo); ok {
		return ri
	}
	return &RequestInfo{}
}

// withRequestInfo records the client's address. X-Forwarded-For and
// X-Forwarded-Proto are trusted only when the listener says a reverse proxy
// sits in front (x_forwarded: true); otherwise anyone could spoof them.
func withRequestInfo(trustForwarded bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := &RequestInfo{ClientIP: remoteIP(r.RemoteAddr), Scheme: "http"}
		if r.TLS != nil {
			ri.Scheme = "https"
		}
		if trustForwarded {
			if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
				// The left-most address is the original client, as Synapse reads it.
				first, _, _ := strings.Cut(xff, ",")
				if ip := net.ParseIP(strings.TrimSpace(first)); ip != nil {
					ri.ClientIP = ip.String()
				}
			}
			if proto := strings.ToLower(r.Header.Get("X-Forwarded-Proto")); proto == "https" || proto == "http" {
				ri.Scheme = proto
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, ri)))
	})
}

func remoteIP(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}

// statusRecorder remembers the status and size of a response for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// accessLog logs one line per request, with secrets removed from the path,
// and turns a panicking handler into a 500 instead of a dropped connection.
func accessLog(log *slog.Logger, listener string, metrics RequestObserver, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.Error("handler panic", "panic", p, "stack", string(debug.Stack()))
				if rec.status == 0 {
					WriteError(rec, r, Unknown(http.StatusInternalServerError, "Internal server error"))
				}
			}
			took := time.Since(start)
			if metrics != nil {
				// The router's ServeMux set r.Pattern on this very request.
				metrics.ObserveRequest(listener, r.Method, r.Pattern, rec.status, took)
			}
			if !log.Enabled(r.Context(), slog.LevelInfo) {
				return
			}
			ri := Info(r.Context())
			// Typed attributes: a line per request is on every hot path.
			log.LogAttrs(r.Context(), slog.LevelInfo, "request",
				slog.String("listener", listener),
				slog.String("client", ri.ClientIP),
				slog.String("method", r.Method),
				slog.String("path", RedactPath(r.URL)),
				slog.Int("status", rec.status),
				slog.Int64("bytes", rec.bytes),
				slog.Float64("duration_ms", float64(took.Microseconds())/1000),
				slog.String("user", ri.User),
				slog.String("user_agent", r.UserAgent()),
			)
		}()
		next.ServeHTTP(rec, r)
	})
}

// secretParams are query parameters whose values must never reach a log.
var secretParams = []string{"access_token", "password", "token", "client_secret", "sid", "loginToken"}

// RedactPath renders a request path and query for logs with secret values
// replaced, as Synapse does for access tokens.
func RedactPath(u *url.URL) string {
	if u.RawQuery == "" {
		return u.EscapedPath()
	}
	q := u.Query()
	for _, p := range secretParams {
		if q.Has(p) {
			q.Set(p, "<redacted>")
		}
	}
	return u.EscapedPath() + "?" + q.Encode()
}
