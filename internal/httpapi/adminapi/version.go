package adminapi

import (
	"net/http"

	"github.com/axonhs/axon/internal/httpapi"
	"github.com/axonhs/axon/internal/version"
)

// RegisterServerVersion adds GET /_synapse/admin/v1/server_version, which
// Synapse serves without authentication.
func RegisterServerVersion(rt *httpapi.Router) {
	rt.Handle(http.MethodGet, "/_synapse/admin/v1/server_version", func(w http.ResponseWriter, r *http.Request) error {
		httpapi.WriteJSON(w, http.StatusOK, map[string]string{"server_version": "Axon " + version.String()})
		return nil
	})
}
