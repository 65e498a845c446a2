package accounts_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/axonhs/axon/internal/accounts"
	"github.com/axonhs/axon/internal/password"
	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

func newService(t *testing.T, opts storage.Options) (*accounts.Service, *storage.DB) {
	db := storagetest.Open(t, opts)
	return accounts.New(db, "example.org", password.Hasher{Rounds: 4}), db
}

func TestRegister(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		svc, db := newService(t, opts)

		s, err := svc.Register(ctx, accounts.NewAccount{Localpart: "alice", Password: "correct horse battery staple", Admin: true, UserType: "bot"})
		if err != nil {
			t.Fatal(err)
		}
		if s.UserID != "@alice:example.org" || len(s.DeviceID) != 10 || !strings.HasPrefix(s.AccessToken, "syt_YWxpY2U_") {
			t.Fatalf("session %+v", s)
		}
		u, err := db.GetUser(ctx, s.UserID)
		if err != nil {
			t.Fatal(err)
		}
		if !u.Admin || u.UserType != "bot" {
			t.Fatalf("stored user %+v", u)
		}
		if ok, _ := (password.Hasher{}).Check(u.PasswordHash, "correct horse battery staple"); !ok {
			t.Fatal("stored hash does not verify")
		}
		if !strings.HasPrefix(u.PasswordHash, "$2b$04$") || strings.Contains(u.PasswordHash, "correct horse") {
			t.Fatal("password stored in clear")
		}

		if _, err := svc.Register(ctx, accounts.NewAccount{Localpart: "alice", Password: "x"}); !errors.Is(err, accounts.ErrUserInUse) {
			t.Fatalf("duplicate: %v", err)
		}
	})
}

func TestRegisterRefusesCaseOnlyDuplicates(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		svc, db := newService(t, opts)
		// A mixed-case user, as old Synapse versions allowed.
		if err := db.CreateUser(ctx, storage.NewUser{UserID: "@Bob:example.org"}, nil, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Register(ctx, accounts.NewAccount{Localpart: "bob", Password: "pw"}); !errors.Is(err, accounts.ErrUserInUse) {
			t.Fatalf("case-only duplicate: %v", err)
		}
	})
}

func TestConcurrentRegistrationsOfOneName(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		svc, _ := newService(t, opts)
		var wg sync.WaitGroup
		results := make(chan error, 8)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := svc.Register(context.Background(), accounts.NewAccount{Localpart: "carol", Password: "pw"})
				results <- err
			}()
		}
		wg.Wait()
		close(results)
		ok := 0
		for err := range results {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, accounts.ErrUserInUse):
				t.Errorf("unexpected error: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d registrations of one name succeeded, want exactly 1", ok)
		}
	})
}

func TestLocalpartRules(t *testing.T) {
	svc := accounts.New(nil, "example.org", password.Hasher{})
	valid := []string{"alice", "a.b_c=d-e/f+g", "0xdeadbeef", "x"}
	invalid := []string{"", "Alice", "al ice", "_bridge", "12345", "ümlaut", "a:b", strings.Repeat("a", 250)}
	for _, lp := range valid {
		if _, err := svc.UserID(lp); err != nil {
			t.Errorf("UserID(%q) = %v, want valid", lp, err)
		}
	}
	for _, lp := range invalid {
		if _, err := svc.UserID(lp); !errors.Is(err, accounts.ErrInvalidUsername) {
			t.Errorf("UserID(%q) = %v, want ErrInvalidUsername", lp, err)
		}
	}
}
