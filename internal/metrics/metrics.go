// Package metrics exposes Prometheus metrics at /_synapse/metrics, where
// Synapse serves them, on listeners of type metrics or with the metrics
// resource, when enable_metrics is true.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Registry holds one server's metrics. Every server gets its own, so tests
// that start several servers in one process do not collide.
type Registry struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// New returns a registry with Go runtime and process metrics and the HTTP
// request metrics that ObserveRequest feeds.
func New() *Registry {
	r := &Registry{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "axon_http_requests_total",
			Help: "HTTP requests served, by listener, method, route and status code.",
		}, []string{"listener", "method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "axon_http_request_duration_seconds",
			Help:    "Time to serve HTTP requests, by listener, method and route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"listener", "method", "route"}),
	}
	r.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		r.requests,
		r.duration,
	)
	return r
}

// ObserveRequest records one served request. route must be the matched
// route pattern, never the raw path, so label cardinality stays bounded.
func (r *Registry) ObserveRequest(listener, method, route string, status int, took time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	method = boundedMethod(method)
	r.requests.WithLabelValues(listener, method, route, strconv.Itoa(status)).Inc()
	r.duration.WithLabelValues(listener, method, route).Observe(took.Seconds())
}

// Handler serves the metrics in the Prometheus text format.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{})
}

// boundedMethod keeps arbitrary client-chosen methods out of label values.
func boundedMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodOptions, http.MethodPatch:
		return m
	}
	return "OTHER"
}
