package server_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"

	"github.com/axonhs/axon/internal/server/servertest"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

// rawJSON sends a request and decodes the JSON answer.
func rawJSON(t *testing.T, method, url, token string, body any) result {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
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

// registerAdmin creates a user through shared-secret registration.
func registerAdmin(t *testing.T, url, user, pw string, admin bool) string {
	t.Helper()
	nonce, _ := rawJSON(t, "GET", url+"/_synapse/admin/v1/register", "", nil).body["nonce"].(string)
	flag := "notadmin"
	if admin {
		flag = "admin"
	}
	mac := hmac.New(sha1.New, []byte(servertest.SharedSecret))
	mac.Write([]byte(strings.Join([]string{nonce, user, pw, flag}, "\x00")))
	res := rawJSON(t, "POST", url+"/_synapse/admin/v1/register", "", map[string]any{
		"nonce": nonce, "username": user, "password": pw, "admin": admin, "mac": hex.EncodeToString(mac.Sum(nil)),
	})
	token, _ := res.body["access_token"].(string)
	if res.status != 200 || token == "" {
		t.Fatalf("shared-secret registration of %s: %d %v", user, res.status, res.body)
	}
	return token
}

// registerWithToken runs the whole token flow and returns the final result.
func registerWithToken(t *testing.T, url, user, regToken string) (challenge, tokenStage, final result) {
	t.Helper()
	reg := url + "/_matrix/client/v3/register"
	body := map[string]any{"username": user, "password": "correct horse battery"}
	challenge = rawJSON(t, "POST", reg, "", body)
	tokenStage = rawJSON(t, "POST", reg, "", withAuth(body, map[string]any{
		"type": "m.login.registration_token", "token": regToken, "session": challenge.session()}))
	if tokenStage.status != http.StatusUnauthorized || tokenStage.errcode() != "" {
		return challenge, tokenStage, tokenStage
	}
	final = rawJSON(t, "POST", reg, "", withAuth(body, map[string]any{"type": "m.login.dummy", "session": challenge.session()}))
	return challenge, tokenStage, final
}

func TestRegistrationTokens(t *testing.T) {
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			cfg := servertest.Config(t, engine)
			cfg.EnableRegistration = true
			cfg.RegistrationRequiresToken = true
			cfg.RegistrationVerifiers = []string{"registration_requires_token"}
			srv := servertest.Start(t, cfg)
			admin := registerAdmin(t, srv.URL, "root", "root password", true)
			user := registerAdmin(t, srv.URL, "mallory", "mallory password", false)
			api := srv.URL + "/_synapse/admin/v1/registration_tokens"

			// Only admins may use the admin API.
			if r := rawJSON(t, "GET", api, "", nil); r.status != 401 || r.errcode() != "M_MISSING_TOKEN" {
				t.Errorf("no token: %d %v", r.status, r.body)
			}
			if r := rawJSON(t, "GET", api, "not-a-token", nil); r.status != 401 || r.errcode() != "M_UNKNOWN_TOKEN" {
				t.Errorf("bad token: %d %v", r.status, r.body)
			}
			if r := rawJSON(t, "POST", api+"/new", user, map[string]any{}); r.status != 403 || r.errcode() != "M_FORBIDDEN" || r.body["error"] != "You are not a server admin" {
				t.Errorf("non-admin: %d %v", r.status, r.body)
			}

			// Creation: validation as in Synapse.
			for _, bad := range []map[string]any{
				{"token": "has space"}, {"token": ""}, {"token": strings.Repeat("a", 65)}, {"token": 5},
				{"length": 0}, {"length": 65}, {"length": "8"},
				{"uses_allowed": -1}, {"uses_allowed": 1.5}, {"expiry_time": 1000}, {"expiry_time": "soon"},
			} {
				if r := rawJSON(t, "POST", api+"/new", admin, bad); r.status != 400 || r.errcode() != "M_INVALID_PARAM" {
					t.Errorf("create %v: %d %v", bad, r.status, r.body)
				}
			}
			r := rawJSON(t, "POST", api+"/new", admin, map[string]any{"token": "once", "uses_allowed": 1})
			if r.status != 200 || r.body["token"] != "once" || r.body["uses_allowed"] != 1.0 || r.body["pending"] != 0.0 ||
				r.body["completed"] != 0.0 || r.body["expiry_time"] != nil {
				t.Fatalf("create: %d %v", r.status, r.body)
			}
			if r := rawJSON(t, "POST", api+"/new", admin, map[string]any{"token": "once"}); r.status != 400 || r.errcode() != "M_INVALID_PARAM" {
				t.Errorf("duplicate: %d %v", r.status, r.body)
			}
			r = rawJSON(t, "POST", api+"/new", admin, map[string]any{"length": 40})
			if gen, _ := r.body["token"].(string); r.status != 200 || len(gen) != 40 || r.body["uses_allowed"] != nil {
				t.Errorf("generated: %d %v", r.status, r.body)
			}

			// Validity endpoint.
			validity := func(token string) any {
				r := rawJSON(t, "GET", srv.URL+"/_matrix/client/v1/register/m.login.registration_token/validity?token="+token, "", nil)
				if r.status != 200 {
					t.Fatalf("validity: %d %v", r.status, r.body)
				}
				return r.body["valid"]
			}
			if validity("once") != true || validity("nope") != false || validity("bad%20chars") != false {
				t.Errorf("validity once/nope/bad = %v %v %v", validity("once"), validity("nope"), validity("bad%20chars"))
			}

			// The flows need the token.
			ch, _, _ := registerWithToken(t, srv.URL, "x", "nope")
			if flows, _ := json.Marshal(ch.body["flows"]); ch.status != 401 || string(flows) != `[{"stages":["m.login.registration_token","m.login.dummy"]}]` {
				t.Fatalf("challenge: %d %s", ch.status, flows)
			}
			// An unknown token: the challenge again, with M_UNAUTHORIZED.
			if _, st, _ := registerWithToken(t, srv.URL, "x", "nope"); st.status != 401 || st.errcode() != "M_UNAUTHORIZED" || st.session() == "" {
				t.Errorf("unknown token: %d %v", st.status, st.body)
			}

			// Alice uses the token; while she is registering it is pending.
			reg := srv.URL + "/_matrix/client/v3/register"
			body := map[string]any{"username": "alice", "password": "correct horse battery"}
			ch = rawJSON(t, "POST", reg, "", body)
			st := rawJSON(t, "POST", reg, "", withAuth(body, map[string]any{"type": "m.login.registration_token", "token": "once", "session": ch.session()}))
			if st.status != 401 || st.errcode() != "" {
				t.Fatalf("token stage: %d %v", st.status, st.body)
			}
			if r := rawJSON(t, "GET", api+"/once", admin, nil); r.body["pending"] != 1.0 || r.body["completed"] != 0.0 {
				t.Errorf("pending: %v", r.body)
			}
			if validity("once") != false {
				t.Error("a token whose only use is pending is still valid")
			}
			// Bob cannot take the pending use.
			if _, st, _ := registerWithToken(t, srv.URL, "bob", "once"); st.errcode() != "M_UNAUTHORIZED" {
				t.Errorf("bob during alice's registration: %d %v", st.status, st.body)
			}
			fin := rawJSON(t, "POST", reg, "", withAuth(body, map[string]any{"type": "m.login.dummy", "session": ch.session()}))
			if fin.status != 200 || fin.body["user_id"] != "@alice:axon.test" {
				t.Fatalf("alice: %d %v", fin.status, fin.body)
			}
			if r := rawJSON(t, "GET", api+"/once", admin, nil); r.body["pending"] != 0.0 || r.body["completed"] != 1.0 {
				t.Errorf("completed: %v", r.body)
			}
			// Exhausted: bob is refused.
			if _, st, _ := registerWithToken(t, srv.URL, "bob", "once"); st.status != 401 || st.errcode() != "M_UNAUTHORIZED" {
				t.Errorf("bob after: %d %v", st.status, st.body)
			}

			// Expired: set it in the near future, wait, and it is refused.
			r = rawJSON(t, "POST", api+"/new", admin, map[string]any{"token": "brief", "expiry_time": time.Now().Add(300 * time.Millisecond).UnixMilli()})
			if r.status != 200 {
				t.Fatalf("create brief: %d %v", r.status, r.body)
			}
			time.Sleep(400 * time.Millisecond)
			if _, st, _ := registerWithToken(t, srv.URL, "carol", "brief"); st.status != 401 || st.errcode() != "M_UNAUTHORIZED" {
				t.Errorf("expired: %d %v", st.status, st.body)
			}

			// Update, list and delete.
			r = rawJSON(t, "PUT", api+"/once", admin, map[string]any{"uses_allowed": 2})
			if r.status != 200 || r.body["uses_allowed"] != 2.0 || r.body["completed"] != 1.0 {
				t.Errorf("update: %d %v", r.status, r.body)
			}
			if r := rawJSON(t, "PUT", api+"/nope", admin, map[string]any{"uses_allowed": 2}); r.status != 404 || r.errcode() != "M_NOT_FOUND" {
				t.Errorf("update unknown: %d %v", r.status, r.body)
			}
			_, _, fin = registerWithToken(t, srv.URL, "dave", "once")
			if fin.status != 200 {
				t.Errorf("dave with the raised limit: %d %v", fin.status, fin.body)
			}
			names := func(q string) string {
				r := rawJSON(t, "GET", api+q, admin, nil)
				var out []string
				for _, tok := range r.body["registration_tokens"].([]any) {
					out = append(out, tok.(map[string]any)["token"].(string))
				}
				return strings.Join(out, ",")
			}
			if got := names("?valid=false"); got != "brief,once" {
				t.Errorf("invalid tokens: %s", got)
			}
			if r := rawJSON(t, "GET", api+"?valid=maybe", admin, nil); r.status != 400 {
				t.Errorf("valid=maybe: %d", r.status)
			}
			if r := rawJSON(t, "DELETE", api+"/brief", admin, nil); r.status != 200 || len(r.body) != 0 {
				t.Errorf("delete: %d %v", r.status, r.body)
			}
			if r := rawJSON(t, "GET", api+"/brief", admin, nil); r.status != 404 || r.body["error"] != "No such registration token: brief" {
				t.Errorf("get deleted: %d %v", r.status, r.body)
			}

			// A real client logs in with the account the token made.
			c := newClient(t, srv.URL)
			if _, err := c.Login(context.Background(), &mautrix.ReqLogin{Type: mautrix.AuthTypePassword,
				Identifier: mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: "alice"}, Password: "correct horse battery"}); err != nil {
				t.Errorf("alice logs in: %v", err)
			}
		})
	}
}

func TestRegistrationTokenValidityNeedsRegistration(t *testing.T) {
	srv := servertest.Start(t, servertest.Config(t, "sqlite3"))
	r := rawJSON(t, "GET", srv.URL+"/_matrix/client/v1/register/m.login.registration_token/validity?token=x", "", nil)
	if r.status != 403 || r.errcode() != "M_FORBIDDEN" {
		t.Errorf("%d %v", r.status, r.body)
	}
}
