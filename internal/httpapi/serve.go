package httpapi

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Listener is one configured listener, ready to serve.
type Listener struct {
	Name          string   // for logs, e.g. "http:8008"
	BindAddresses []string // IP addresses; IPv6 ones listen IPv6-only
	Port          int
	TLS           *tls.Config // nil for plain HTTP
	XForwarded    bool
	Compress      bool
	Handler       http.Handler
	// Metrics, when set, is told about every request served.
	Metrics RequestObserver
}

// RequestObserver records served requests, e.g. as Prometheus metrics.
type RequestObserver interface {
	ObserveRequest(listener, method, route string, status int, took time.Duration)
}

// ShutdownTimeout bounds how long in-flight requests may run after a stop
// signal before their connections are closed.
const ShutdownTimeout = 10 * time.Second

// BoundListener is a Listener whose sockets are open.
type BoundListener struct {
	Listener
	sockets []net.Listener
}

// Addrs returns the addresses actually bound (useful when Port was 0).
func (b *BoundListener) Addrs() []net.Addr {
	addrs := make([]net.Addr, len(b.sockets))
	for i, s := range b.sockets {
		addrs[i] = s.Addr()
	}
	return addrs
}

// Bind opens every socket of l. An IPv6 address on a host without IPv6 is
// skipped with a warning, as long as another address binds, so the default
// ['::1', '127.0.0.1'] works on IPv4-only machines.
func Bind(l Listener, log *slog.Logger) (*BoundListener, error) {
	b := &BoundListener{Listener: l}
	var skipped []error
	for _, addr := range l.BindAddresses {
		ip := net.ParseIP(addr)
		if ip == nil {
			b.Close()
			return nil, fmt.Errorf("listener %s: bind address %q is not an IP address", l.Name, addr)
		}
		network := "tcp4"
		if ip.To4() == nil {
			network = "tcp6" // IPv6-only, so "::" and "0.0.0.0" can share a port
		}
		hostPort := net.JoinHostPort(ip.String(), strconv.Itoa(l.Port))
		sock, err := net.Listen(network, hostPort)
		if err != nil {
			if network == "tcp6" && ipv6Unavailable(err) {
				skipped = append(skipped, err)
				log.Warn("IPv6 unavailable, skipping bind address", "listener", l.Name, "address", hostPort, "err", err)
				continue
			}
			b.Close()
			return nil, fmt.Errorf("listener %s: listen on %s: %w", l.Name, hostPort, err)
		}
		b.sockets = append(b.sockets, sock)
	}
	if len(b.sockets) == 0 {
		return nil, fmt.Errorf("listener %s: no address could be bound: %w", l.Name, errors.Join(skipped...))
	}
	return b, nil
}

func ipv6Unavailable(err error) bool {
	return errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EAFNOSUPPORT) || errors.Is(err, syscall.EPROTONOSUPPORT)
}

// Close closes the sockets of a listener that will not be served.
func (b *BoundListener) Close() {
	for _, s := range b.sockets {
		_ = s.Close()
	}
}

// handler assembles the middleware chain for this listener.
func (b *BoundListener) handler(log *slog.Logger) http.Handler {
	h := b.Handler
	if b.Compress {
		h = Compress(h)
	}
	h = CORS(h)
	h = accessLog(log, b.Name, b.Metrics, h)
	return withRequestInfo(b.XForwarded, h)
}

// Serve serves every bound listener until ctx is cancelled, then stops
// accepting, lets in-flight requests finish (up to ShutdownTimeout) and
// returns. It returns early with an error if any socket fails.
func Serve(ctx context.Context, log *slog.Logger, listeners []*BoundListener) error {
	var servers []*http.Server
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	for _, b := range listeners {
		srv := &http.Server{
			Handler:           b.handler(log),
			TLSConfig:         b.TLS,
			ReadHeaderTimeout: 30 * time.Second,
			IdleTimeout:       5 * time.Minute,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
			BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		}
		servers = append(servers, srv)
		for _, sock := range b.sockets {
			log.Info("listening", "listener", b.Name, "address", sock.Addr().String(), "tls", b.TLS != nil)
			wg.Add(1)
			go func() {
				defer wg.Done()
				var err error
				if b.TLS != nil {
					err = srv.ServeTLS(sock, "", "")
				} else {
					err = srv.Serve(sock)
				}
				if err != nil && !errors.Is(err, http.ErrServerClosed) {
					errs <- fmt.Errorf("listener %s on %s: %w", b.Name, sock.Addr(), err)
				}
			}()
		}
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errs:
	}

	log.Info("shutting down: no new connections, finishing in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	for _, srv := range servers {
		if err := srv.Shutdown(shutdownCtx); err != nil {
			log.Warn("forced shutdown", "err", err)
			_ = srv.Close()
		}
	}
	wg.Wait()
	return serveErr
}
