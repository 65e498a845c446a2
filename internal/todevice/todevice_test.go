package todevice

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/streams"
)

// fakeStore records sends and serves an inbox.
type fakeStore struct {
	sends   []storage.ToDeviceSend
	inbox   []storage.ToDeviceRow
	reads   int
	deletes []int64
}

func (f *fakeStore) SendToDevice(_ context.Context, s storage.ToDeviceSend) (bool, error) {
	f.sends = append(f.sends, s)
	return false, nil
}

func (f *fakeStore) ToDeviceInbox(_ context.Context, _, _ string, after, upTo int64, limit int) ([]storage.ToDeviceRow, error) {
	f.reads++
	var out []storage.ToDeviceRow
	for _, r := range f.inbox {
		if r.Pos > after && r.Pos <= upTo && len(out) < limit {
			out = append(out, r)
		}
	}
	return out, nil
}

func (f *fakeStore) DeleteToDevice(_ context.Context, _, _ string, upTo int64) error {
	f.deletes = append(f.deletes, upTo)
	return nil
}

type woken []string

func (w *woken) WakeUser(u string) { *w = append(*w, u) }

func TestSendBuildsMessagesForLocalDevices(t *testing.T) {
	store, wake := &fakeStore{}, &woken{}
	s := New(store, streams.NewSequence(0), wake, "x")
	err := s.Send(context.Background(), Send{Sender: "@a:x", SenderKey: "A", Type: "m.t", TxnID: "1", Messages: map[string]map[string]json.RawMessage{
		"@b:x":      {"*": json.RawMessage(`{ "z": 1, "a": "é" }`)},
		"@c:x":      {"*": json.RawMessage(`{}`), "C1": json.RawMessage(`{}`)},
		"@r:remote": {"R": json.RawMessage(`{}`)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(store.sends) != 1 {
		t.Fatalf("sends %+v", store.sends)
	}
	got := store.sends[0]
	if got.Pos != 1 || got.TxnKey != "m.t/1" || len(got.Messages) != 2 {
		t.Fatalf("send %+v", got)
	}
	if m := got.Messages[0]; m.UserID != "@b:x" || m.DeviceID != "*" || m.JSON != `{"content":{"a":"é","z":1},"sender":"@a:x","type":"m.t"}` {
		t.Fatalf("message to bob %+v", m)
	}
	// "*" beside device IDs is not the wildcard.
	if m := got.Messages[1]; m.UserID != "@c:x" || m.DeviceID != "C1" {
		t.Fatalf("message to carol %+v", m)
	}
	if strings.Join(*wake, ",") != "@b:x,@c:x" {
		t.Fatalf("woken %v", *wake)
	}
	if s.Position() != 1 {
		t.Fatalf("position %d", s.Position())
	}
}

func TestSendRefusesBadContent(t *testing.T) {
	s := New(&fakeStore{}, streams.NewSequence(0), &woken{}, "x")
	for content, want := range map[string]error{
		`"not an object"`: ErrBadMessage,
		`{"a":1.5}`:       ErrBadMessage,
		`{"a":"` + strings.Repeat("x", MaxContentSize) + `"}`: ErrTooLarge,
	} {
		err := s.Send(context.Background(), Send{Sender: "@a:x", Type: "t", TxnID: "1",
			Messages: map[string]map[string]json.RawMessage{"@b:x": {"B": json.RawMessage(content)}}})
		if !errors.Is(err, want) {
			t.Errorf("content %.30s: %v, want %v", content, err, want)
		}
	}
}

func TestForSyncAndAck(t *testing.T) {
	store := &fakeStore{}
	s := New(store, streams.NewSequence(5), &woken{}, "x")
	// Nothing was sent since start: no query.
	if evs, next, err := s.ForSync(context.Background(), "@b:x", "B", 5, 5); err != nil || evs != nil || next != 5 || store.reads != 0 {
		t.Fatalf("idle: %v %d %v, %d reads", evs, next, err, store.reads)
	}
	// A token from before the start reads the inbox.
	store.inbox = []storage.ToDeviceRow{{Pos: 3, JSON: `{}`}}
	if evs, _, _ := s.ForSync(context.Background(), "@b:x", "B", 0, 5); len(evs) != 1 {
		t.Fatalf("old token: %v", evs)
	}
	for pos := int64(6); pos < 6+SyncLimit+10; pos++ {
		if err := s.Send(context.Background(), Send{Sender: "@a:x", Type: "t", TxnID: string(rune(pos)),
			Messages: map[string]map[string]json.RawMessage{"@b:x": {"B": json.RawMessage(`{}`)}}}); err != nil {
			t.Fatal(err)
		}
		store.inbox = append(store.inbox, storage.ToDeviceRow{Pos: pos, JSON: `{}`})
	}
	evs, next, err := s.ForSync(context.Background(), "@b:x", "B", 5, s.Position())
	if err != nil || len(evs) != SyncLimit || next != 5+SyncLimit {
		t.Fatalf("limited: %d events, next %d, %v", len(evs), next, err)
	}
	// The first ack after start deletes; one with nothing new since does not.
	ctx := context.Background()
	for _, upTo := range []int64{next, next, s.Position(), s.Position()} {
		if err := s.Ack(ctx, "@b:x", "B", upTo); err != nil {
			t.Fatal(err)
		}
	}
	if len(store.deletes) != 2 || store.deletes[1] != s.Position() {
		t.Fatalf("deletes %v", store.deletes)
	}
}

type remoteSends []map[string]map[string]json.RawMessage

func (r *remoteSends) SendToDevice(_ context.Context, _, _ string, m map[string]map[string]json.RawMessage) error {
	*r = append(*r, m)
	return nil
}

func TestRemoteMessagesGoToRemote(t *testing.T) {
	store, remote := &fakeStore{}, &remoteSends{}
	s := New(store, streams.NewSequence(0), &woken{}, "x").WithRemote(remote)
	send := Send{Sender: "@a:x", SenderKey: "A", Type: "m.t", TxnID: "1", Messages: map[string]map[string]json.RawMessage{
		"@r:remote.example": {"R": json.RawMessage(`{}`)},
		"not a user":        {"R": json.RawMessage(`{}`)},
	}}
	if err := s.Send(context.Background(), send); err != nil {
		t.Fatal(err)
	}
	// The transaction is recorded even without local messages, so that a
	// retry does not send to the remote server again.
	if len(store.sends) != 1 || len(store.sends[0].Messages) != 0 {
		t.Fatalf("stored %+v", store.sends)
	}
	if len(*remote) != 1 || len((*remote)[0]) != 1 || (*remote)[0]["@r:remote.example"] == nil {
		t.Fatalf("remote got %+v", *remote)
	}
	big := json.RawMessage(`{"a":"` + strings.Repeat("x", MaxContentSize) + `"}`)
	send.Messages = map[string]map[string]json.RawMessage{"@r:remote.example": {"R": big}}
	if err := s.Send(context.Background(), send); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("too large for a remote user: %v", err)
	}
}
