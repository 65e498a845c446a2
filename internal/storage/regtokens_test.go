package storage_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

func TestRegistrationTokens(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		db := storagetest.Open(t, opts)
		now := time.UnixMilli(1_700_000_000_000)
		later := now.Add(time.Hour)
		one, past := int64(1), now.Add(-time.Second).UnixMilli()

		if err := db.CreateRegistrationToken(ctx, "abc", &one, nil); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateRegistrationToken(ctx, "abc", nil, nil); !errors.Is(err, storage.ErrRegistrationTokenExists) {
			t.Fatalf("duplicate: %v", err)
		}
		if err := db.CreateRegistrationToken(ctx, "ABC", nil, &past); err != nil {
			t.Fatalf("tokens are case-sensitive: %v", err)
		}
		if _, err := db.RegistrationToken(ctx, "nope", now); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("unknown: %v", err)
		}

		// ABC has expired: it is invalid, abc is valid.
		valid, invalid := true, false
		list := func(v *bool) []string {
			t.Helper()
			ts, err := db.RegistrationTokens(ctx, now, v)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tok := range ts {
				names = append(names, tok.Token)
			}
			return names
		}
		if got := fmt.Sprint(list(nil), list(&valid), list(&invalid)); got != "[ABC abc] [abc] [ABC]" {
			t.Errorf("lists = %s", got)
		}
		if err := db.ReserveRegistrationToken(ctx, "ABC", "s0", now, later); !errors.Is(err, storage.ErrRegistrationTokenInvalid) {
			t.Errorf("expired token reserved: %v", err)
		}
		if err := db.ReserveRegistrationToken(ctx, "nope", "s0", now, later); !errors.Is(err, storage.ErrRegistrationTokenInvalid) {
			t.Errorf("unknown token reserved: %v", err)
		}

		// One use: s1 holds it (again is fine), s2 is refused, s1 cannot switch.
		if err := db.ReserveRegistrationToken(ctx, "abc", "s1", now, later); err != nil {
			t.Fatal(err)
		}
		if err := db.ReserveRegistrationToken(ctx, "abc", "s1", now, later); err != nil {
			t.Fatalf("same session again: %v", err)
		}
		if err := db.ReserveRegistrationToken(ctx, "abc", "s2", now, later); !errors.Is(err, storage.ErrRegistrationTokenInvalid) {
			t.Fatalf("exhausted token reserved: %v", err)
		}
		if err := db.ReserveRegistrationToken(ctx, "ABC", "s1", now, later); !errors.Is(err, storage.ErrRegistrationTokenChanged) {
			t.Fatalf("changed token: %v", err)
		}
		tok, err := db.RegistrationToken(ctx, "abc", now)
		if err != nil || tok.Pending != 1 || tok.Completed != 0 || tok.Valid(now.UnixMilli()) {
			t.Fatalf("after reservation: %+v %v", tok, err)
		}
		// Once the reservation expires it no longer counts.
		if tok, _ := db.RegistrationToken(ctx, "abc", later); tok.Pending != 0 || !tok.Valid(later.UnixMilli()) {
			t.Errorf("after expiry: %+v", tok)
		}

		got, err := db.CompleteRegistrationToken(ctx, "s1", now)
		if err != nil || got != "abc" {
			t.Fatalf("complete = %q, %v", got, err)
		}
		if _, err := db.CompleteRegistrationToken(ctx, "s1", now); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("complete twice: %v", err)
		}
		tok, _ = db.RegistrationToken(ctx, "abc", now)
		if tok.Pending != 0 || tok.Completed != 1 || tok.Valid(now.UnixMilli()) {
			t.Fatalf("after completion: %+v", tok)
		}
		if err := db.UncompleteRegistrationToken(ctx, "abc"); err != nil {
			t.Fatal(err)
		}
		if tok, _ = db.RegistrationToken(ctx, "abc", now); tok.Completed != 0 {
			t.Fatalf("after give back: %+v", tok)
		}

		// Update: only the fields asked for.
		five, exp := int64(5), later.UnixMilli()
		tok, err = db.UpdateRegistrationToken(ctx, "abc", storage.RegistrationTokenUpdate{SetUsesAllowed: true, UsesAllowed: &five}, now)
		if err != nil || *tok.UsesAllowed != 5 || tok.ExpiryTime != nil {
			t.Fatalf("update uses: %+v %v", tok, err)
		}
		tok, err = db.UpdateRegistrationToken(ctx, "abc", storage.RegistrationTokenUpdate{SetExpiryTime: true, ExpiryTime: &exp}, now)
		if err != nil || *tok.UsesAllowed != 5 || *tok.ExpiryTime != exp {
			t.Fatalf("update expiry: %+v %v", tok, err)
		}
		tok, err = db.UpdateRegistrationToken(ctx, "abc", storage.RegistrationTokenUpdate{SetUsesAllowed: true, SetExpiryTime: true}, now)
		if err != nil || tok.UsesAllowed != nil || tok.ExpiryTime != nil {
			t.Fatalf("update to null: %+v %v", tok, err)
		}
		if _, err := db.UpdateRegistrationToken(ctx, "nope", storage.RegistrationTokenUpdate{SetUsesAllowed: true}, now); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("update unknown: %v", err)
		}

		// Delete takes the reservations along.
		if err := db.ReserveRegistrationToken(ctx, "abc", "s3", now, later); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteRegistrationToken(ctx, "abc"); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteRegistrationToken(ctx, "abc"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("delete twice: %v", err)
		}
		if _, err := db.CompleteRegistrationToken(ctx, "s3", now); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("complete after delete: %v", err)
		}
	})
}

// TestRegistrationTokenConcurrentReservations: however many registrations
// race for a token, no more than uses_allowed of them get it.
func TestRegistrationTokenConcurrentReservations(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		db := storagetest.Open(t, opts)
		now := time.Now()
		three := int64(3)
		if err := db.CreateRegistrationToken(ctx, "race", &three, nil); err != nil {
			t.Fatal(err)
		}
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			granted int
		)
		for i := range 20 {
			wg.Go(func() {
				err := db.ReserveRegistrationToken(ctx, "race", fmt.Sprint("s", i), now, now.Add(time.Hour))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					granted++
				case !errors.Is(err, storage.ErrRegistrationTokenInvalid):
					t.Errorf("reserve: %v", err)
				}
			})
		}
		wg.Wait()
		tok, err := db.RegistrationToken(ctx, "race", now)
		if granted != 3 || err != nil || tok.Pending != 3 {
			t.Fatalf("granted %d, token %+v, %v", granted, tok, err)
		}
	})
}
