// Package filter validates and stores the sync filters clients upload
// (POST /user/{userId}/filter) so /sync can refer to them by ID.
package filter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/axonhs/axon/internal/matrix/id"
	"github.com/axonhs/axon/internal/storage"
)

// Errors a caller can map to Matrix error codes.
var (
	ErrInvalid  = errors.New("invalid filter")
	ErrNotFound = errors.New("filter not found")
)

// Filter is the spec's Filter object, as far as validation needs it.
type Filter struct {
	EventFields []string     `json:"event_fields,omitempty"`
	EventFormat string       `json:"event_format,omitempty"`
	Presence    *EventFilter `json:"presence,omitempty"`
	AccountData *EventFilter `json:"account_data,omitempty"`
	Room        *RoomFilter  `json:"room,omitempty"`
}

// EventFilter is the spec's EventFilter.
type EventFilter struct {
	Limit      *int64   `json:"limit,omitempty"`
	NotSenders []string `json:"not_senders,omitempty"`
	NotTypes   []string `json:"not_types,omitempty"`
	Senders    []string `json:"senders,omitempty"`
	Types      []string `json:"types,omitempty"`
}

// RoomEventFilter is the spec's RoomEventFilter.
type RoomEventFilter struct {
	EventFilter
	NotRooms                []string `json:"not_rooms,omitempty"`
	Rooms                   []string `json:"rooms,omitempty"`
	ContainsURL             *bool    `json:"contains_url,omitempty"`
	LazyLoadMembers         *bool    `json:"lazy_load_members,omitempty"`
	IncludeRedundantMembers *bool    `json:"include_redundant_members,omitempty"`
	UnreadThreadNotifs      *bool    `json:"unread_thread_notifications,omitempty"`
}

// RoomFilter is the spec's RoomFilter.
type RoomFilter struct {
	NotRooms     []string         `json:"not_rooms,omitempty"`
	Rooms        []string         `json:"rooms,omitempty"`
	IncludeLeave *bool            `json:"include_leave,omitempty"`
	AccountData  *RoomEventFilter `json:"account_data,omitempty"`
	Ephemeral    *RoomEventFilter `json:"ephemeral,omitempty"`
	State        *RoomEventFilter `json:"state,omitempty"`
	Timeline     *RoomEventFilter `json:"timeline,omitempty"`
}

// Parse validates a filter definition: every known field must have the
// type the spec gives it; unknown fields are kept, as clients may send
// extensions.
func Parse(data []byte) (*Filter, error) {
	var f Filter
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if f.EventFormat != "" && f.EventFormat != "client" && f.EventFormat != "federation" {
		return nil, fmt.Errorf("%w: event_format must be client or federation", ErrInvalid)
	}
	for _, ef := range []*EventFilter{f.Presence, f.AccountData} {
		if err := ef.check(); err != nil {
			return nil, err
		}
	}
	if r := f.Room; r != nil {
		if err := checkRoomIDs(r.Rooms, r.NotRooms); err != nil {
			return nil, err
		}
		for _, ref := range []*RoomEventFilter{r.AccountData, r.Ephemeral, r.State, r.Timeline} {
			if ref == nil {
				continue
			}
			if err := ref.EventFilter.check(); err != nil {
				return nil, err
			}
			if err := checkRoomIDs(ref.Rooms, ref.NotRooms); err != nil {
				return nil, err
			}
		}
	}
	return &f, nil
}

func (ef *EventFilter) check() error {
	if ef == nil {
		return nil
	}
	if ef.Limit != nil && *ef.Limit < 0 {
		return fmt.Errorf("%w: limit must not be negative", ErrInvalid)
	}
	for _, list := range [][]string{ef.Senders, ef.NotSenders} {
		for _, u := range list {
			if _, err := id.ParseUserIDLenient(u); err != nil {
				return fmt.Errorf("%w: %q is not a user ID", ErrInvalid, u)
			}
		}
	}
	return nil
}

func checkRoomIDs(lists ...[]string) error {
	for _, list := range lists {
		for _, r := range list {
			if _, err := id.ParseRoomID(r); err != nil {
				return fmt.Errorf("%w: %q is not a room ID", ErrInvalid, r)
			}
		}
	}
	return nil
}

// Store is the storage the service needs.
type Store interface {
	CreateFilter(ctx context.Context, userID string, filter []byte) (int64, error)
	Filter(ctx context.Context, userID string, filterID int64) ([]byte, error)
}

// Service stores filters.
type Service struct{ store Store }

// New returns a filter service.
func New(store Store) *Service { return &Service{store: store} }

// Create validates and stores a filter, returning its ID.
func (s *Service) Create(ctx context.Context, userID string, data []byte) (string, error) {
	if _, err := Parse(data); err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	id, err := s.store.CreateFilter(ctx, userID, buf.Bytes())
	if err != nil {
		return "", err
	}
	return strconv.FormatInt(id, 10), nil
}

// Get returns a stored filter definition.
func (s *Service) Get(ctx context.Context, userID, filterID string) ([]byte, error) {
	id, err := strconv.ParseInt(filterID, 10, 64)
	if err != nil || id < 0 {
		return nil, ErrNotFound
	}
	data, err := s.store.Filter(ctx, userID, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrNotFound
	}
	return data, err
}
