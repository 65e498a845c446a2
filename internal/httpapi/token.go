package httpapi

import (
	"net/http"
	"strings"
)

// AccessToken returns the token a request carries, from the Authorization
// header or, as older clients send it, the access_token query parameter.
func AccessToken(r *http.Request) (string, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") && token != "" {
			return strings.TrimSpace(token), true
		}
		return "", false
	}
	if token := r.URL.Query().Get("access_token"); token != "" {
		return token, true
	}
	return "", false
}
