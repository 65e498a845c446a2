package storage_test

import (
	"context"
	"crypto/sha256"
	"testing"

	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

// BenchmarkLookupAccessToken is the database cost an authenticated request
// would pay without the accounts service's token cache.
func BenchmarkLookupAccessToken(b *testing.B) {
	for _, engine := range storagetest.Engines() {
		b.Run(engine, func(b *testing.B) {
			db := storagetest.Open(b, storagetest.NewOptions(b, engine))
			ctx := context.Background()
			hash := sha256.Sum256([]byte("token"))
			err := db.CreateUser(ctx, storage.NewUser{UserID: "@b:x"},
				&storage.NewDevice{DeviceID: "D"}, &storage.NewAccessToken{TokenHash: hash[:], DeviceID: "D"})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := db.LookupAccessToken(ctx, hash[:]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
