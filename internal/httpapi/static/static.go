// Package static serves the welcome page at /_matrix/static/ and the
// redirect to it from /, as Synapse does, so a browser pointed at the
// server shows that it runs.
package static

import (
	"html/template"
	"net/http"

	"github.com/axonhs/axon/internal/httpapi"
)

var welcome = template.Must(template.New("welcome").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Axon is running</title>
<style>body{font-family:system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em;color:#222}code{background:#eee;padding:.1em .3em}</style>
</head>
<body>
<h1>It works! Axon is running.</h1>
<p>This is the Matrix homeserver for <code>{{.}}</code>.</p>
<p>Use a Matrix client such as Element to sign in.</p>
</body>
</html>
`))

// Register adds the welcome page and the root redirect.
func Register(rt *httpapi.Router, serverName string) {
	rt.HandleHTTP("GET /{$}", http.RedirectHandler("/_matrix/static/", http.StatusFound))
	page := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		_ = welcome.Execute(w, serverName)
	}
	rt.HandleHTTP("GET /_matrix/static/{$}", http.HandlerFunc(page))
}
