package accountdata_test

import (
	"context"
	"errors"
	"testing"

	"github.com/axonhs/axon/internal/accountdata"
	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/storage/storagetest"
	"github.com/axonhs/axon/internal/streams"
)

func TestAccountData(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		db := storagetest.Open(t, opts)
		if err := db.CreateUser(ctx, storage.NewUser{UserID: "@a:x"}, nil, nil); err != nil {
			t.Fatal(err)
		}
		svc := accountdata.New(db, streams.NewSequence(0), nil)

		if err := svc.Put(ctx, "@a:x", "", "im.example", []byte(` { "n" : 1.5 } `)); err != nil {
			t.Fatal(err)
		}
		got, err := svc.Get(ctx, "@a:x", "", "im.example")
		if err != nil || string(got) != `{"n":1.5}` {
			t.Fatalf("%s %v", got, err)
		}
		if _, err := svc.Get(ctx, "@a:x", "!r:x", "im.example"); !errors.Is(err, accountdata.ErrNotFound) {
			t.Fatalf("room data is separate from global: %v", err)
		}
		for _, bad := range []string{`[]`, `"x"`, `{`, "{\"a\":\"\xff\"}"} {
			if err := svc.Put(ctx, "@a:x", "", "im.example", []byte(bad)); !errors.Is(err, accountdata.ErrNotObject) {
				t.Errorf("Put(%q) = %v", bad, err)
			}
		}
		if err := svc.Put(ctx, "@a:x", "!r:x", "m.fully_read", []byte(`{}`)); !errors.Is(err, accountdata.ErrServerManaged) {
			t.Fatalf("m.fully_read: %v", err)
		}

		if err := svc.SetTag(ctx, "@a:x", "!r:x", "u.work", []byte(`{"order":0.5}`)); err != nil {
			t.Fatal(err)
		}
		if err := svc.SetTag(ctx, "@a:x", "!r:x", "u.bad", []byte(`{"order":7}`)); !errors.Is(err, accountdata.ErrBadTag) {
			t.Fatalf("order out of range: %v", err)
		}
		tags, err := svc.Tags(ctx, "@a:x", "!r:x")
		if err != nil || len(tags) != 1 || string(tags["u.work"]) != `{"order":0.5}` {
			t.Fatalf("%v %v", tags, err)
		}
		// Tags are the room's m.tag document, as /sync will deliver them.
		doc, err := svc.Get(ctx, "@a:x", "!r:x", accountdata.TagType)
		if err != nil || string(doc) != `{"tags":{"u.work":{"order":0.5}}}` {
			t.Fatalf("%s %v", doc, err)
		}
		if err := svc.DeleteTag(ctx, "@a:x", "!r:x", "u.work"); err != nil {
			t.Fatal(err)
		}
		if tags, _ := svc.Tags(ctx, "@a:x", "!r:x"); len(tags) != 0 {
			t.Fatalf("tag not deleted: %v", tags)
		}
	})
}

// The server writes the types clients may not, through the same stream.
func TestPutServerManaged(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		db := storagetest.Open(t, opts)
		if err := db.CreateUser(ctx, storage.NewUser{UserID: "@a:x"}, nil, nil); err != nil {
			t.Fatal(err)
		}
		seq := streams.NewSequence(0)
		woken := ""
		svc := accountdata.New(db, seq, func(u string) { woken = u })
		if err := svc.Put(ctx, "@a:x", "", "m.push_rules", []byte(`{}`)); !errors.Is(err, accountdata.ErrServerManaged) {
			t.Fatalf("a client wrote m.push_rules: %v", err)
		}
		if err := svc.PutServerManaged(ctx, "@a:x", "", "m.push_rules", []byte(`{ "global" : {} }`)); err != nil {
			t.Fatal(err)
		}
		if got, err := svc.Get(ctx, "@a:x", "", "m.push_rules"); err != nil || string(got) != `{"global":{}}` {
			t.Fatalf("%s %v", got, err)
		}
		if seq.Current() != 1 || woken != "@a:x" {
			t.Errorf("stream at %d, woke %q", seq.Current(), woken)
		}
		if err := svc.PutServerManaged(ctx, "@a:x", "", "m.push_rules", []byte(`[]`)); !errors.Is(err, accountdata.ErrNotObject) {
			t.Errorf("not an object: %v", err)
		}
	})
}
