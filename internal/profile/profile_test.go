package profile

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// memStore is an in-memory Store.
type memStore map[string]map[string][]byte

func (m memStore) UserExists(_ context.Context, userID string) (bool, error) {
	_, ok := m[userID]
	return ok, nil
}

func (m memStore) ProfileFields(_ context.Context, userID string) (map[string][]byte, error) {
	return m[userID], nil
}

func (m memStore) SetProfileField(_ context.Context, userID, field string, value []byte, check func(map[string][]byte) error) error {
	after := map[string][]byte{}
	for k, v := range m[userID] {
		after[k] = v
	}
	if value == nil {
		delete(after, field)
	} else {
		after[field] = value
	}
	if err := check(after); err != nil {
		return err
	}
	m[userID] = after
	return nil
}

func (m memStore) DeleteProfile(_ context.Context, userID string) error {
	m[userID] = map[string][]byte{}
	return nil
}

func TestSet(t *testing.T) {
	store := memStore{"@a:x": {}}
	svc := New(store, Settings{SetDisplayNameAllowed: true, SetAvatarURLAllowed: true})
	ctx := context.Background()
	tests := []struct {
		key, value string
		want       error
	}{
		{"displayname", `"Alice"`, nil},
		{"displayname", `5`, ErrInvalidValue},
		{"displayname", `"` + strings.Repeat("é", 257) + `"`, ErrInvalidValue},
		{"avatar_url", `"mxc://x/abc"`, nil},
		{"avatar_url", `"https://example.org/a.png"`, nil}, // Synapse checks only the length
		{"m.tz", `"Europe/Paris"`, nil},
		{"org.example.mood", `{"emoji":"🙂","level":0.5}`, nil},
		{"Mood", `"x"`, ErrInvalidKey},
		{"nodots", `"x"`, ErrInvalidKey},
		{"org.example." + strings.Repeat("a", 250), `"x"`, ErrKeyTooLarge},
		{"org.example.big", `"` + strings.Repeat("a", MaxProfileBytes) + `"`, ErrProfileTooLarge},
		{"org.example.bad", `{`, ErrInvalidValue},
	}
	for _, tt := range tests {
		err := svc.Set(ctx, "@a:x", tt.key, []byte(tt.value))
		if !errors.Is(err, tt.want) && !(err == nil && tt.want == nil) {
			t.Errorf("Set(%s, %.40s) = %v, want %v", tt.key, tt.value, err, tt.want)
		}
	}
	if got := string(store["@a:x"]["org.example.mood"]); got != `{"emoji":"🙂","level":0.5}` {
		t.Errorf("stored %s", got)
	}
}

func TestDisabledChanges(t *testing.T) {
	svc := New(memStore{"@a:x": {}}, Settings{})
	if err := svc.Set(context.Background(), "@a:x", "displayname", []byte(`"A"`)); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("err %v", err)
	}
	if err := svc.Set(context.Background(), "@a:x", "m.tz", []byte(`"UTC"`)); err != nil {
		t.Fatalf("other fields stay settable: %v", err)
	}
}

func TestUnknownUser(t *testing.T) {
	if _, err := New(memStore{}, Settings{}).Get(context.Background(), "@nobody:x"); !errors.Is(err, ErrNoSuchUser) {
		t.Fatalf("err %v", err)
	}
}
