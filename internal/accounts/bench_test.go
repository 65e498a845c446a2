package accounts_test

import (
	"context"
	"github.com/axonhs/axon/internal/password"
	"testing"

	"github.com/axonhs/axon/internal/accounts"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

// BenchmarkAuthenticate measures the per-request cost of resolving an
// access token, which every authenticated request pays.
func BenchmarkAuthenticate(b *testing.B) {
	db := storagetest.Open(b, storagetest.NewOptions(b, "sqlite3"))
	svc := accounts.New(db, "example.org", passwordHasherForBench)
	s, err := svc.Register(context.Background(), accounts.NewAccount{Localpart: "bench", Password: "pw"})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := svc.Authenticate(ctx, s.AccessToken); err != nil {
				b.Fatal(err)
			}
		}
	})
}

var passwordHasherForBench = password.Hasher{Rounds: 4}
