package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"maunium.net/go/mautrix"

	"github.com/axonhs/axon/internal/config"
	"github.com/axonhs/axon/internal/server/servertest"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

func TestServerOverLoopback(t *testing.T) {
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv := servertest.Start(t, servertest.Config(t, engine))

			t.Run("a Matrix client reads /versions", func(t *testing.T) {
				client, err := mautrix.NewClient(srv.URL, "", "")
				if err != nil {
					t.Fatal(err)
				}
				versions, err := client.Versions(context.Background())
				if err != nil {
					t.Fatalf("Versions: %v", err)
				}
				if len(versions.Versions) == 0 {
					t.Fatal("no spec versions advertised")
				}
			})

			t.Run("health", func(t *testing.T) {
				status, body := get(t, srv.URL+"/health")
				if status != 200 || body != "OK" {
					t.Fatalf("%d %q", status, body)
				}
			})

			t.Run("root redirects to the welcome page", func(t *testing.T) {
				status, body := get(t, srv.URL+"/")
				if status != 200 || !strings.Contains(body, "Axon is running") || !strings.Contains(body, "axon.test") {
					t.Fatalf("%d %q", status, body)
				}
			})

			t.Run("unknown endpoint", func(t *testing.T) {
				status, body := get(t, srv.URL+"/_matrix/client/v3/not-a-thing")
				var e map[string]string
				if err := json.Unmarshal([]byte(body), &e); err != nil || status != 404 || e["errcode"] != "M_UNRECOGNIZED" {
					t.Fatalf("%d %s", status, body)
				}
			})

			t.Run("server version", func(t *testing.T) {
				status, body := get(t, srv.URL+"/_synapse/admin/v1/server_version")
				if status != 200 || !strings.Contains(body, `"server_version":"Axon `) {
					t.Fatalf("%d %s", status, body)
				}
			})

			t.Run("CORS preflight", func(t *testing.T) {
				req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/_matrix/client/v3/login", nil)
				req.Header.Set("Origin", "https://app.element.io")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
					t.Fatalf("%d %v", resp.StatusCode, resp.Header)
				}
			})
		})
	}
}

func TestUnsupportedResourcesStillServeTheRest(t *testing.T) {
	cfg := servertest.Config(t, "sqlite3")
	cfg.Listeners[0].Resources[0].Names = []string{"client", "media", "openid"}
	srv := servertest.Start(t, cfg)
	if status, _ := get(t, srv.URL+"/_matrix/client/versions"); status != 200 {
		t.Fatalf("versions: %d", status)
	}
}

func TestListenerWithoutClientResourceHasNoClientAPI(t *testing.T) {
	cfg := servertest.Config(t, "sqlite3")
	cfg.Listeners[0].Resources[0].Names = []string{"health"}
	srv := servertest.Start(t, cfg)
	if status, _ := get(t, srv.URL+"/_matrix/client/versions"); status != 404 {
		t.Fatalf("client API served on a health-only listener: %d", status)
	}
	if status, _ := get(t, srv.URL+"/_synapse/admin/v1/register"); status != 404 {
		t.Fatalf("admin API served on a health-only listener: %d", status)
	}
	if status, _ := get(t, srv.URL+"/health"); status != 200 {
		t.Fatalf("health: %d", status)
	}
}

func TestPIDFile(t *testing.T) {
	cfg := servertest.Config(t, "sqlite3")
	cfg.PIDFile = t.TempDir() + "/axon.pid"
	srv := servertest.Start(t, cfg)
	if _, err := os.ReadFile(cfg.PIDFile); err != nil {
		t.Fatalf("pid_file not written: %v", err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.ReadFile(cfg.PIDFile); err == nil {
		t.Fatal("pid_file left behind after shutdown")
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func TestMetrics(t *testing.T) {
	cfg := servertest.Config(t, "sqlite3")
	cfg.EnableMetrics = true
	cfg.Listeners = append(cfg.Listeners, config.Listener{Port: 0, BindAddresses: []string{"127.0.0.1"}, Type: "metrics"})
	srv := servertest.Start(t, cfg)
	get(t, srv.URL+"/_matrix/client/versions")

	status, body := get(t, srv.MetricsURL(t)+"/_synapse/metrics")
	if status != 200 || !strings.Contains(body, `axon_http_requests_total{code="200",listener="http:0",method="GET",route="/_matrix/client/versions"} 1`) {
		t.Fatalf("%d\n%s", status, body)
	}
	if status, _ := get(t, srv.URL+"/_synapse/metrics"); status != 404 {
		t.Fatalf("metrics served on the client listener: %d", status)
	}
}

func TestMetricsNeedEnableMetrics(t *testing.T) {
	cfg := servertest.Config(t, "sqlite3")
	cfg.Listeners = append(cfg.Listeners, config.Listener{Port: 0, BindAddresses: []string{"127.0.0.1"}, Type: "metrics"})
	srv := servertest.Start(t, cfg)
	if status, _ := get(t, srv.MetricsURL(t)+"/_synapse/metrics"); status != 404 {
		t.Fatalf("metrics served without enable_metrics: %d", status)
	}
}
