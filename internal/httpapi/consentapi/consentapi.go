// Package consentapi serves the privacy policy at /_matrix/consent (the
// consent listener resource): viewing it, and the form by which a user
// agrees to it, as in Synapse.
package consentapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/axonhs/axon/internal/consent"
	"github.com/axonhs/axon/internal/httpapi"
)

// Service is what the pages need of the consent service.
type Service interface {
	Page(ctx context.Context, req consent.Request) (string, error)
	Agree(ctx context.Context, req consent.Request) (string, error)
}

// maxFormSize bounds the agreement form's body; it holds three short fields.
const maxFormSize = 64 << 10

const path = "/_matrix/consent"

// Register mounts GET and POST /_matrix/consent.
func Register(rt *httpapi.Router, svc Service) {
	rt.Handle(http.MethodGet, path, func(w http.ResponseWriter, r *http.Request) error {
		return view(w, r, svc)
	})
	rt.Handle(http.MethodPost, path, func(w http.ResponseWriter, r *http.Request) error {
		return agree(w, r, svc)
	})
}

// view serves GET ?v=<version>&u=<user>&h=<hmac>: v defaults to the
// current version, and without u the policy is shown to anyone (as before
// registering); with u, h must sign it.
func view(w http.ResponseWriter, r *http.Request, svc Service) error {
	q := r.URL.Query()
	req := consent.Request{Version: q.Get("v"), User: q.Get("u"), MAC: q.Get("h")}
	if req.User != "" && !q.Has("h") {
		return httpapi.MissingParam("Missing string query parameter 'h'")
	}
	page, err := svc.Page(r.Context(), req)
	if err != nil {
		return consentError(err)
	}
	writeHTML(w, page)
	return nil
}

// agree serves the form's POST of v, u and h (form fields or query
// parameters): it records the agreement and shows success.html.
func agree(w http.ResponseWriter, r *http.Request, svc Service) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormSize)
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return httpapi.TooLarge("Form too large")
		}
		return httpapi.InvalidParam("Malformed form")
	}
	for _, name := range []string{"v", "u", "h"} {
		if !r.Form.Has(name) {
			return httpapi.MissingParam("Missing string query parameter '" + name + "'")
		}
	}
	page, err := svc.Agree(r.Context(), consent.Request{Version: r.Form.Get("v"), User: r.Form.Get("u"), MAC: r.Form.Get("h")})
	if err != nil {
		return consentError(err)
	}
	writeHTML(w, page)
	return nil
}

func writeHTML(w http.ResponseWriter, page string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// No framing, as Synapse's HTML pages: a framed agreement button
	// could be clicked by trickery.
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "frame-ancestors 'none'")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(page))
}

func consentError(err error) error {
	switch {
	case errors.Is(err, consent.ErrUnknownVersion):
		return httpapi.NotFound("Unknown policy version")
	case errors.Is(err, consent.ErrNoSuccessPage):
		return httpapi.NotFound("success.html not found")
	case errors.Is(err, consent.ErrUnknownUser):
		return httpapi.NotFound("Unknown user")
	case errors.Is(err, consent.ErrBadMAC):
		return httpapi.Forbidden("HMAC incorrect")
	}
	return err
}
