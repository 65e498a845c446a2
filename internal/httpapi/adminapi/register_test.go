package adminapi

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/axonhs/axon/internal/accounts"
	"github.com/axonhs/axon/internal/httpapi"
	"github.com/axonhs/axon/internal/password"
)

// Vectors computed independently with Python's hmac module, exactly as
// Synapse's register_new_matrix_user computes them.
func TestMACMatchesSynapse(t *testing.T) {
	tests := []struct {
		secret, nonce, user, password string
		admin                         bool
		userType, want                string
	}{
		{"shared_secret", "thisisanonce", "pepper_roni", "pizza", true, "", "48715842ad67d5dc9a9ee938a3bda4fcfae8d7c7"},
		{"shared_secret", "thisisanonce", "pepper_roni", "pizza", false, "", "cf2391885316861a8e3871bfdcd223ab3913221d"},
		{"complement", "abc123", "bot-1", "pässwörd", false, "bot", "1125134e8703ae4431cc465858b71b3bca22a3ea"},
	}
	for _, tt := range tests {
		got := hex.EncodeToString(MAC([]byte(tt.secret), tt.nonce, tt.user, tt.password, tt.admin, tt.userType))
		if got != tt.want {
			t.Errorf("MAC(%q, %q, admin=%v, %q) = %s, want %s", tt.user, tt.password, tt.admin, tt.userType, got, tt.want)
		}
	}
}

// fakeRegistrar stands in for the accounts service.
type fakeRegistrar struct {
	taken map[string]bool
	got   []accounts.NewAccount
}

func (f *fakeRegistrar) ServerName() string { return "example.org" }

func (f *fakeRegistrar) Register(_ context.Context, a accounts.NewAccount) (accounts.Session, error) {
	svc := accounts.New(nil, "example.org", password.Hasher{})
	userID, err := svc.UserID(a.Localpart)
	if err != nil {
		return accounts.Session{}, err
	}
	if f.taken[a.Localpart] {
		return accounts.Session{}, accounts.ErrUserInUse
	}
	f.got = append(f.got, a)
	return accounts.Session{UserID: userID, DeviceID: "DEVICE", AccessToken: "syt_token"}, nil
}

type harness struct {
	t   *testing.T
	reg *fakeRegistrar
	ep  *SharedSecretRegistration
	h   http.Handler
}

func newHarness(t *testing.T, secret string) *harness {
	reg := &fakeRegistrar{taken: map[string]bool{"taken": true}}
	ep := NewSharedSecretRegistration(secret, reg)
	rt := httpapi.NewRouter()
	ep.Register(rt)
	return &harness{t: t, reg: reg, ep: ep, h: rt}
}

func (h *harness) do(method, body string) (int, map[string]any) {
	h.t.Helper()
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, httptest.NewRequest(method, "/_synapse/admin/v1/register", strings.NewReader(body)))
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		h.t.Fatalf("response not JSON: %s", rec.Body)
	}
	return rec.Code, m
}

func (h *harness) nonce() string {
	h.t.Helper()
	code, body := h.do(http.MethodGet, "")
	if code != 200 {
		h.t.Fatalf("GET nonce: %d %v", code, body)
	}
	return body["nonce"].(string)
}

func (h *harness) body(nonce, user, password string, admin bool, userType, secret string) string {
	m := map[string]any{
		"nonce": nonce, "username": user, "password": password, "admin": admin,
		"mac": hex.EncodeToString(MAC([]byte(secret), nonce, user, password, admin, userType)),
	}
	if userType != "" {
		m["user_type"] = userType
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func TestSharedSecretRegistration(t *testing.T) {
	const secret = "s3cret"

	t.Run("registers an admin and returns a session", func(t *testing.T) {
		h := newHarness(t, secret)
		code, body := h.do(http.MethodPost, h.body(h.nonce(), "Alice", "pw", true, "", secret))
		if code != 200 {
			t.Fatalf("%d %v", code, body)
		}
		// Synapse lower-cases the requested name after checking the MAC.
		if body["user_id"] != "@alice:example.org" || body["home_server"] != "example.org" || body["access_token"] == "" || body["device_id"] == "" {
			t.Fatalf("body %v", body)
		}
		if len(h.reg.got) != 1 || !h.reg.got[0].Admin || h.reg.got[0].Password != "pw" {
			t.Fatalf("registered %+v", h.reg.got)
		}
	})

	t.Run("null user_type, as Synapse's script sends it", func(t *testing.T) {
		h := newHarness(t, secret)
		body := strings.Replace(h.body(h.nonce(), "ivan", "pw", false, "", secret), "{", `{"user_type":null,`, 1)
		if code, resp := h.do(http.MethodPost, body); code != 200 {
			t.Fatalf("%d %v", code, resp)
		}
	})

	t.Run("user type is covered by the MAC", func(t *testing.T) {
		h := newHarness(t, secret)
		if code, body := h.do(http.MethodPost, h.body(h.nonce(), "bot1", "pw", false, "bot", secret)); code != 200 {
			t.Fatalf("%d %v", code, body)
		}
		if h.reg.got[0].UserType != "bot" {
			t.Fatalf("user type %q", h.reg.got[0].UserType)
		}
	})

	errorCases := []struct {
		name    string
		body    func(h *harness) string
		status  int
		errcode string
	}{
		{"bad MAC", func(h *harness) string { return h.body(h.nonce(), "bob", "pw", false, "", "wrong") }, 403, "M_FORBIDDEN"},
		{"admin flag flipped after signing", func(h *harness) string {
			return strings.Replace(h.body(h.nonce(), "bob", "pw", false, "", secret), `"admin":false`, `"admin":true`, 1)
		}, 403, "M_FORBIDDEN"},
		{"unknown nonce", func(h *harness) string { return h.body("made-up", "bob", "pw", false, "", secret) }, 400, "M_UNKNOWN"},
		{"taken", func(h *harness) string { return h.body(h.nonce(), "taken", "pw", false, "", secret) }, 400, "M_USER_IN_USE"},
		{"bad localpart", func(h *harness) string { return h.body(h.nonce(), "bad name!", "pw", false, "", secret) }, 400, "M_INVALID_USERNAME"},
		{"guest-style numeric", func(h *harness) string { return h.body(h.nonce(), "12345", "pw", false, "", secret) }, 400, "M_INVALID_USERNAME"},
		{"unknown user type", func(h *harness) string { return h.body(h.nonce(), "carol", "pw", false, "wizard", secret) }, 400, "M_INVALID_PARAM"},
		{"missing mac", func(h *harness) string { return `{"nonce":"` + h.nonce() + `","username":"a","password":"b"}` }, 400, "M_MISSING_PARAM"},
		{"NUL in password", func(h *harness) string { return h.body(h.nonce(), "dave", "a\x00b", false, "", secret) }, 400, "M_INVALID_PARAM"},
		{"not JSON", func(h *harness) string { return "{" }, 400, "M_NOT_JSON"},
	}
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, secret)
			code, body := h.do(http.MethodPost, tc.body(h))
			if code != tc.status || body["errcode"] != tc.errcode {
				t.Fatalf("got %d %v, want %d %s", code, body, tc.status, tc.errcode)
			}
			if len(h.reg.got) != 0 {
				t.Fatalf("a user was created: %+v", h.reg.got)
			}
		})
	}

	t.Run("nonce is single use", func(t *testing.T) {
		h := newHarness(t, secret)
		n := h.nonce()
		if code, _ := h.do(http.MethodPost, h.body(n, "erin", "pw", false, "", secret)); code != 200 {
			t.Fatal("first use failed")
		}
		if code, body := h.do(http.MethodPost, h.body(n, "frank", "pw", false, "", secret)); code != 400 {
			t.Fatalf("replayed nonce: %d %v", code, body)
		}
	})

	t.Run("a failed MAC burns the nonce", func(t *testing.T) {
		h := newHarness(t, secret)
		n := h.nonce()
		h.do(http.MethodPost, h.body(n, "gina", "pw", false, "", "wrong"))
		if code, _ := h.do(http.MethodPost, h.body(n, "gina", "pw", false, "", secret)); code != 400 {
			t.Fatal("nonce reusable after a bad MAC: allows online guessing")
		}
	})

	t.Run("nonce expires", func(t *testing.T) {
		h := newHarness(t, secret)
		now := time.Now()
		h.ep.nonces.now = func() time.Time { return now }
		n := h.nonce()
		now = now.Add(nonceLifetime + time.Second)
		if code, _ := h.do(http.MethodPost, h.body(n, "hank", "pw", false, "", secret)); code != 400 {
			t.Fatal("expired nonce accepted")
		}
	})

	t.Run("disabled without a secret", func(t *testing.T) {
		h := newHarness(t, "")
		if code, body := h.do(http.MethodGet, ""); code != 404 || body["errcode"] != "M_NOT_FOUND" {
			t.Fatalf("GET: %d %v", code, body)
		}
		if code, _ := h.do(http.MethodPost, `{}`); code != 404 {
			t.Fatalf("POST: %d", code)
		}
	})
}

func TestNonceStoreIsBounded(t *testing.T) {
	s := newNonceStore()
	for range maxNonces + 100 {
		s.issue()
	}
	if len(s.issued) > maxNonces {
		t.Fatalf("%d nonces held, bound is %d", len(s.issued), maxNonces)
	}
}
