// Package clientapi serves the Matrix client-server API (/_matrix/client/...).
package clientapi

import (
	"net/http"

	"github.com/axonhs/axon/internal/httpapi"
)

// SupportedVersions are the spec versions advertised by /versions. A version
// is listed only once everything it requires of a server works; grow the list
// as the client API lands.
var SupportedVersions = []string{"v1.1"}

// UnstableFeatures are the MSC flags advertised by /versions.
var UnstableFeatures = map[string]bool{}

// RegisterVersions adds GET /_matrix/client/versions, which needs no auth.
func RegisterVersions(rt *httpapi.Router) {
	rt.Handle(http.MethodGet, "/_matrix/client/versions", func(w http.ResponseWriter, r *http.Request) error {
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{
			"versions":          SupportedVersions,
			"unstable_features": UnstableFeatures,
		})
		return nil
	})
}
