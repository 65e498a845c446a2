package httpapi

import (
	"net/http"
	"slices"
	"strings"
)

// HandlerFunc is an endpoint: it writes a success response itself and
// returns an error (usually *Error) for the router to encode.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Router maps paths to per-method endpoints on top of net/http's ServeMux.
//
// ServeMux answers unknown paths and wrong methods in plain text; Matrix
// clients expect JSON errors (M_UNRECOGNIZED with 404 or 405), so the router
// does the method dispatch itself and owns the fallback.
type Router struct {
	mux    *http.ServeMux
	routes map[string]map[string]HandlerFunc // pattern -> method -> handler
}

// NewRouter returns an empty router whose unknown paths answer 404 M_UNRECOGNIZED.
func NewRouter() *Router {
	rt := &Router{mux: http.NewServeMux(), routes: map[string]map[string]HandlerFunc{}}
	rt.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, r, Unrecognized())
	})
	return rt
}

// Handle registers h for method on a ServeMux path pattern (without method),
// e.g. "/_matrix/client/v3/rooms/{roomId}/state".
func (rt *Router) Handle(method, pattern string, h HandlerFunc) {
	methods, ok := rt.routes[pattern]
	if !ok {
		methods = map[string]HandlerFunc{}
		rt.routes[pattern] = methods
		rt.mux.Handle(pattern, rt.dispatch(pattern))
	}
	if _, dup := methods[method]; dup {
		panic("httpapi: duplicate route " + method + " " + pattern)
	}
	methods[method] = h
}

// HandleHTTP mounts a plain http.Handler for every method under pattern.
func (rt *Router) HandleHTTP(pattern string, h http.Handler) { rt.mux.Handle(pattern, h) }

func (rt *Router) dispatch(pattern string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		methods := rt.routes[pattern]
		h, ok := methods[r.Method]
		if !ok && r.Method == http.MethodHead {
			h, ok = methods[http.MethodGet]
		}
		if !ok {
			w.Header().Set("Allow", allowed(methods))
			WriteError(w, r, MethodNotAllowed())
			return
		}
		if err := h(w, r); err != nil {
			WriteError(w, r, err)
		}
	})
}

func allowed(methods map[string]HandlerFunc) string {
	names := make([]string, 0, len(methods)+1)
	for m := range methods {
		names = append(names, m)
	}
	names = append(names, http.MethodOptions)
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// ServeHTTP serves registered routes and answers everything else with 404
// M_UNRECOGNIZED.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) { rt.mux.ServeHTTP(w, r) }
