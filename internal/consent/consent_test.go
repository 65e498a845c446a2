package consent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/axonhs/axon/internal/storage"
)

type fakeStore map[string]string // user ID -> agreed version

func (f fakeStore) ConsentVersion(_ context.Context, userID string) (string, error) {
	v, ok := f[userID]
	if !ok {
		return "", fmt.Errorf("consent: %w", storage.ErrNotFound)
	}
	return v, nil
}

func (f fakeStore) SetConsentVersion(_ context.Context, userID, version string, _ time.Time) error {
	if _, ok := f[userID]; !ok {
		return fmt.Errorf("consent: %w", storage.ErrNotFound)
	}
	f[userID] = version
	return nil
}

func newTestService(t *testing.T, withSuccess bool) (*Service, fakeStore) {
	dir := t.TempDir()
	en := filepath.Join(dir, "en")
	if err := os.Mkdir(en, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"1.0.html": "v={{ version }} public={% if public_version %}yes{% else %}no{% endif %} agreed={% if has_consented %}yes{% else %}no{% endif %} u={{ user }} h={{ userhmac }}",
		"2.0.html": "second",
	}
	if withSuccess {
		files["success.html"] = "thanks for {{ version }}"
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(en, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A file next to the template directory that no version may reach.
	if err := os.WriteFile(filepath.Join(dir, "secret.html"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	store := fakeStore{"@alice:example.org": ""}
	return New(store, Settings{TemplateDir: dir, Version: "1.0", FormSecret: "form-secret", ServerName: "example.org"}), store
}

func TestMACMatchesSynapse(t *testing.T) {
	s := New(nil, Settings{FormSecret: "form-secret"})
	// hmac.new(b"form-secret", b"alice", sha256).hexdigest()
	if got := s.MAC("alice"); got != "6a364a5da4706cc91fb1fc9bda87f943bd2fb9a25a31522573f93a28a70e62b7" {
		t.Fatalf("MAC = %s", got)
	}
}

func TestPage(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestService(t, true)

	page, err := s.Page(ctx, Request{})
	if err != nil || page != "v=1.0 public=yes agreed=no u= h=" {
		t.Fatalf("public page %q, %v", page, err)
	}
	if page, err := s.Page(ctx, Request{Version: "2.0"}); err != nil || page != "second" {
		t.Fatalf("version 2.0: %q, %v", page, err)
	}
	mac := s.MAC("alice")
	page, err = s.Page(ctx, Request{User: "alice", MAC: mac})
	if err != nil || page != "v=1.0 public=no agreed=no u=alice h="+mac {
		t.Fatalf("page for alice %q, %v", page, err)
	}

	for _, c := range []struct {
		req  Request
		want error
	}{
		{Request{Version: "3.0"}, ErrUnknownVersion},
		{Request{Version: "../secret"}, ErrUnknownVersion},
		{Request{Version: "../en/1.0"}, ErrUnknownVersion},
		{Request{Version: ".hidden"}, ErrUnknownVersion},
		{Request{Version: "success"}, nil}, // a page like any other, as in Synapse
		{Request{User: "alice", MAC: "00"}, ErrBadMAC},
		{Request{User: "alice", MAC: s.MAC("bob")}, ErrBadMAC},
		{Request{User: "bob", MAC: s.MAC("bob")}, ErrUnknownUser},
	} {
		if _, err := s.Page(ctx, c.req); !errors.Is(err, c.want) {
			t.Errorf("%+v: err %v, want %v", c.req, err, c.want)
		}
	}
}

func TestAgree(t *testing.T) {
	ctx := context.Background()
	s, store := newTestService(t, true)
	req := Request{Version: "1.0", User: "@alice:example.org", MAC: s.MAC("@alice:example.org")}
	page, err := s.Agree(ctx, req)
	if err != nil || page != "thanks for 1.0" {
		t.Fatalf("agree: %q, %v", page, err)
	}
	if store["@alice:example.org"] != "1.0" {
		t.Fatalf("stored %q", store["@alice:example.org"])
	}
	// The localpart form of the link names the same user.
	page, err = s.Page(ctx, Request{User: "alice", MAC: s.MAC("alice")})
	if err != nil || !strings.Contains(page, "agreed=yes") {
		t.Fatalf("page after agreeing: %q, %v", page, err)
	}

	for _, c := range []struct {
		req  Request
		want error
	}{
		{Request{Version: "9.9", User: "alice", MAC: s.MAC("alice")}, ErrUnknownVersion},
		{Request{Version: "../secret", User: "alice", MAC: s.MAC("alice")}, ErrUnknownVersion},
		{Request{Version: "1.0", User: "alice", MAC: s.MAC("carol")}, ErrBadMAC},
		{Request{Version: "1.0", User: "carol", MAC: s.MAC("carol")}, ErrUnknownUser},
	} {
		if _, err := s.Agree(ctx, c.req); !errors.Is(err, c.want) {
			t.Errorf("%+v: err %v, want %v", c.req, err, c.want)
		}
	}

	noSuccess, _ := newTestService(t, false)
	if _, err := noSuccess.Agree(ctx, Request{Version: "1.0", User: "alice", MAC: noSuccess.MAC("alice")}); !errors.Is(err, ErrNoSuccessPage) {
		t.Fatalf("without success.html: %v", err)
	}
}

func TestValidVersion(t *testing.T) {
	for v, want := range map[string]bool{
		"1.0": true, "2024-01_b": true, "v3": true,
		"": false, ".": false, "..": false, ".1": false, "a/b": false, `a\b`: false, "1 0": false, "1.0\x00": false,
		strings.Repeat("1", 101): false,
	} {
		if got := ValidVersion(v); got != want {
			t.Errorf("ValidVersion(%q) = %v", v, got)
		}
	}
}
