// Package accountdata keeps the per-user JSON documents clients store on
// the server: global and per-room account data, and room tags (kept as the
// room's m.tag document, which is how /sync delivers them).
package accountdata

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/streams"
)

// Errors a caller can map to Matrix error codes.
var (
	ErrServerManaged = errors.New("account data type is managed by the server")
	ErrNotObject     = errors.New("content must be a JSON object")
	ErrNotFound      = errors.New("account data not found")
	ErrBadTag        = errors.New("invalid tag")
)

// serverManaged are the types clients may read but only the server writes
// (the spec's rejection list).
var serverManaged = map[string]bool{"m.fully_read": true, "m.push_rules": true}

// TagType is the room account data type holding a room's tags.
const TagType = "m.tag"

// MaxTagBytes bounds a tag name (Synapse allows 255 bytes).
const MaxTagBytes = 255

// Store is the storage the service needs.
type Store interface {
	AccountData(ctx context.Context, userID, roomID, typ string) ([]byte, error)
	SetAccountData(ctx context.Context, userID, roomID, typ string, content []byte, pos int64) error
	UpdateAccountData(ctx context.Context, userID, roomID, typ string, pos int64, update func(old []byte) ([]byte, error)) error
}

// Service stores account data. Every write takes the next position of the
// account data stream, so /sync can send what changed since a token.
type Service struct {
	store Store
	seq   *streams.Sequence
	wake  func(userID string) // wakes the user's waiting syncs
}

// New returns an account data service writing positions from seq; wake,
// if not nil, is told whose account data changed.
func New(store Store, seq *streams.Sequence, wake func(userID string)) *Service {
	if wake == nil {
		wake = func(string) {}
	}
	return &Service{store: store, seq: seq, wake: wake}
}

// write runs fn with the next stream position and wakes the user's syncs
// once it is durable.
func (s *Service) write(userID string, fn func(pos int64) error) error {
	pos := s.seq.Reserve()
	err := fn(pos)
	s.seq.Finish(pos)
	if err == nil {
		s.wake(userID)
	}
	return err
}

// Get returns a document; roomID "" means global account data.
func (s *Service) Get(ctx context.Context, userID, roomID, typ string) ([]byte, error) {
	content, err := s.store.AccountData(ctx, userID, roomID, typ)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrNotFound
	}
	return content, err
}

// Put stores a client-written document; nil content deletes it.
func (s *Service) Put(ctx context.Context, userID, roomID, typ string, content []byte) error {
	if serverManaged[typ] {
		return ErrServerManaged
	}
	if content != nil {
		compact, err := compactObject(content)
		if err != nil {
			return err
		}
		content = compact
	}
	return s.write(userID, func(pos int64) error {
		return s.store.SetAccountData(ctx, userID, roomID, typ, content, pos)
	})
}

// PutServerManaged stores a document of a type that only the server
// writes (such as m.push_rules, which Put refuses from clients), through
// the same stream, so /sync delivers it like any other account data.
func (s *Service) PutServerManaged(ctx context.Context, userID, roomID, typ string, content []byte) error {
	compact, err := compactObject(content)
	if err != nil {
		return err
	}
	return s.write(userID, func(pos int64) error {
		return s.store.SetAccountData(ctx, userID, roomID, typ, compact, pos)
	})
}

// compactObject checks that content is a JSON object and removes
// insignificant whitespace. Account data is never signed, so unlike events
// it may hold floats: canonical JSON rules do not apply.
func compactObject(content []byte) ([]byte, error) {
	if !utf8.Valid(content) || !json.Valid(content) {
		return nil, ErrNotObject
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, content); err != nil || buf.Len() == 0 || buf.Bytes()[0] != '{' {
		return nil, ErrNotObject
	}
	return buf.Bytes(), nil
}

type tagsDoc struct {
	Tags map[string]json.RawMessage `json:"tags"`
}

// Tags returns a room's tags as tag name -> tag object.
func (s *Service) Tags(ctx context.Context, userID, roomID string) (map[string]json.RawMessage, error) {
	content, err := s.Get(ctx, userID, roomID, TagType)
	if errors.Is(err, ErrNotFound) {
		return map[string]json.RawMessage{}, nil
	}
	if err != nil {
		return nil, err
	}
	return decodeTags(content), nil
}

// SetTag adds or replaces a tag; info is its JSON object (e.g. {"order":0.5}).
func (s *Service) SetTag(ctx context.Context, userID, roomID, tag string, info []byte) error {
	if tag == "" || len(tag) > MaxTagBytes {
		return ErrBadTag
	}
	// Tag objects carry an "order" float, which canonical JSON forbids, so
	// they are checked with encoding/json instead.
	var obj map[string]any
	if err := json.Unmarshal(info, &obj); err != nil || obj == nil {
		return ErrNotObject
	}
	if order, ok := obj["order"]; ok {
		f, isNum := order.(float64)
		if !isNum || math.IsNaN(f) || f < 0 || f > 1 {
			return fmt.Errorf("%w: order must be a number between 0 and 1", ErrBadTag)
		}
	}
	compact, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	return s.write(userID, func(pos int64) error {
		return s.store.UpdateAccountData(ctx, userID, roomID, TagType, pos, func(old []byte) ([]byte, error) {
			tags := decodeTags(old)
			tags[tag] = compact
			return json.Marshal(tagsDoc{Tags: tags})
		})
	})
}

// DeleteTag removes a tag; removing an absent tag is not an error.
func (s *Service) DeleteTag(ctx context.Context, userID, roomID, tag string) error {
	return s.write(userID, func(pos int64) error {
		return s.store.UpdateAccountData(ctx, userID, roomID, TagType, pos, func(old []byte) ([]byte, error) {
			tags := decodeTags(old)
			delete(tags, tag)
			return json.Marshal(tagsDoc{Tags: tags})
		})
	})
}

func decodeTags(content []byte) map[string]json.RawMessage {
	var doc tagsDoc
	if content != nil {
		_ = json.Unmarshal(content, &doc) // a corrupt document reads as no tags
	}
	if doc.Tags == nil {
		doc.Tags = map[string]json.RawMessage{}
	}
	return doc.Tags
}
