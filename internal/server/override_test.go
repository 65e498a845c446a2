package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/axonhs/axon/internal/server/servertest"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

func overrideURL(base, userID string) string {
	return base + "/_synapse/admin/v1/users/" + url.PathEscape(userID) + "/override_ratelimit"
}

// rawBody sends body as it is and decodes the JSON answer.
func rawBody(t *testing.T, method, url, token, body string) result {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	res := result{status: resp.StatusCode}
	if err := json.NewDecoder(resp.Body).Decode(&res.body); err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return res
}

func TestOverrideRateLimitAdminAPI(t *testing.T) {
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			cfg := servertest.Config(t, engine)
			srv := servertest.Start(t, cfg)
			admin := registerAdmin(t, srv.URL, "admin", "admin password", true)
			bobToken := registerAdmin(t, srv.URL, "bob", "bob password", false)
			bob := overrideURL(srv.URL, "@bob:axon.test")

			expect := func(what string, res result, status int, body string) {
				t.Helper()
				got, _ := json.Marshal(res.body)
				if res.status != status || string(got) != body {
					t.Fatalf("%s: %d %s, want %d %s", what, res.status, got, status, body)
				}
			}
			expect("no override yet", rawJSON(t, "GET", bob, admin, nil), 200, `{}`)
			expect("set", rawJSON(t, "POST", bob, admin, map[string]any{"messages_per_second": 10, "burst_count": 20}),
				200, `{"burst_count":20,"messages_per_second":10}`)
			expect("get", rawJSON(t, "GET", bob, admin, nil), 200, `{"burst_count":20,"messages_per_second":10}`)
			// Both default to 0, which lifts the limits; an empty body is fine.
			expect("set one", rawJSON(t, "POST", bob, admin, map[string]any{"burst_count": 5}), 200, `{"burst_count":5,"messages_per_second":0}`)
			expect("set without a body", rawBody(t, "POST", bob, admin, ""), 200, `{"burst_count":0,"messages_per_second":0}`)

			// Overrides are stored: a restarted server has them.
			expect("set", rawJSON(t, "POST", bob, admin, map[string]any{"messages_per_second": 1, "burst_count": 2}),
				200, `{"burst_count":2,"messages_per_second":1}`)
			if err := srv.Stop(); err != nil {
				t.Fatal(err)
			}
			srv = servertest.Start(t, cfg)
			bob = overrideURL(srv.URL, "@bob:axon.test")
			expect("after restart", rawJSON(t, "GET", bob, admin, nil), 200, `{"burst_count":2,"messages_per_second":1}`)

			t.Run("invalid values", func(t *testing.T) {
				for _, body := range []string{
					`{"messages_per_second": -1}`, `{"burst_count": -5}`, `{"messages_per_second": 1.5}`,
					`{"messages_per_second": "5"}`, `{"burst_count": true}`, `{"burst_count": null}`,
				} {
					res := rawBody(t, "POST", bob, admin, body)
					if res.status != 400 || res.errcode() != "M_INVALID_PARAM" {
						t.Errorf("%s: %d %v, want 400 M_INVALID_PARAM", body, res.status, res.body)
					}
				}
				if res := rawBody(t, "POST", bob, admin, "not json"); res.status != 400 || res.errcode() != "M_NOT_JSON" {
					t.Errorf("not JSON: %d %v", res.status, res.body)
				}
				if res := rawBody(t, "POST", bob, admin, "[1]"); res.status != 400 || res.errcode() != "M_BAD_JSON" {
					t.Errorf("not an object: %d %v", res.status, res.body)
				}
				expect("unchanged", rawJSON(t, "GET", bob, admin, nil), 200, `{"burst_count":2,"messages_per_second":1}`)
			})

			t.Run("only existing local users", func(t *testing.T) {
				for _, method := range []string{"GET", "POST", "DELETE"} {
					for user, want := range map[string]struct {
						status int
						code   string
					}{
						"@bob:elsewhere.test":  {400, "M_UNKNOWN"},
						"bob":                  {400, "M_UNKNOWN"},
						"@nobody:axon.test":    {404, "M_NOT_FOUND"},
						"@bob:axon.test:extra": {400, "M_UNKNOWN"},
					} {
						res := rawJSON(t, method, overrideURL(srv.URL, user), admin, nil)
						if res.status != want.status || res.errcode() != want.code {
							t.Errorf("%s %s: %d %v, want %d %s", method, user, res.status, res.body, want.status, want.code)
						}
					}
				}
			})

			t.Run("admins only", func(t *testing.T) {
				for _, method := range []string{"GET", "POST", "DELETE"} {
					if res := rawJSON(t, method, bob, bobToken, nil); res.status != 403 || res.errcode() != "M_FORBIDDEN" {
						t.Errorf("%s as a non-admin: %d %v", method, res.status, res.body)
					}
					if res := rawJSON(t, method, bob, "", nil); res.status != 401 || res.errcode() != "M_MISSING_TOKEN" {
						t.Errorf("%s without a token: %d %v", method, res.status, res.body)
					}
				}
				expect("unchanged", rawJSON(t, "GET", bob, admin, nil), 200, `{"burst_count":2,"messages_per_second":1}`)
			})

			expect("delete", rawJSON(t, "DELETE", bob, admin, nil), 200, `{}`)
			expect("after delete", rawJSON(t, "GET", bob, admin, nil), 200, `{}`)
			expect("delete again", rawJSON(t, "DELETE", bob, admin, nil), 200, `{}`)
		})
	}
}
