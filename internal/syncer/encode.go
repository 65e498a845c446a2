package syncer

import (
	"encoding/json"
	"slices"
	"strconv"

	"github.com/axonhs/axon/internal/matrix/canonicaljson"
	"github.com/axonhs/axon/internal/push"
	"github.com/axonhs/axon/internal/rooms"
)

// AppendJSON appends the response as JSON, as encoding/json would write
// it (same keys, omissions and key order) but without re-reading the
// events. encoding/json validates and compacts every json.RawMessage it
// writes; a response is mostly events, which the server formatted itself,
// so that second pass was a tenth of an initial sync's CPU (pprof).
func (r *Response) AppendJSON(b []byte) []byte {
	b = append(b, `{"next_batch":`...)
	b = canonicaljson.AppendString(b, r.NextBatch)
	b = appendEventList(append(b, `,"account_data":`...), r.AccountData)
	b = appendEventList(append(b, `,"presence":`...), r.Presence)
	b = append(b, `,"rooms":{"join":`...)
	b = appendRooms(b, r.Rooms.Join, appendJoinedRoom)
	b = appendRooms(append(b, `,"invite":`...), r.Rooms.Invite, func(b []byte, room *InvitedRoom) []byte {
		return append(appendEventList(append(b, `{"invite_state":`...), room.InviteState), '}')
	})
	b = appendRooms(append(b, `,"leave":`...), r.Rooms.Leave, appendLeftRoom)
	b = appendRooms(append(b, `,"knock":`...), r.Rooms.Knock, func(b []byte, room *KnockedRoom) []byte {
		return append(appendEventList(append(b, `{"knock_state":`...), room.KnockState), '}')
	})
	b = append(b, '}')
	return append(r.appendE2EE(b), '}')
}

// appendE2EE writes the end-to-end encryption members, each only when
// set; counts that are set are written even when empty.
func (r *Response) appendE2EE(b []byte) []byte {
	if r.ToDevice != nil {
		b = appendEventList(append(b, `,"to_device":`...), *r.ToDevice)
	}
	if r.DeviceLists != nil {
		b = append(b, `,"device_lists":{`...)
		sep := ""
		if len(r.DeviceLists.Changed) > 0 {
			b = appendStrings(append(b, `"changed":`...), r.DeviceLists.Changed)
			sep = ","
		}
		if len(r.DeviceLists.Left) > 0 {
			b = appendStrings(append(append(b, sep...), `"left":`...), r.DeviceLists.Left)
		}
		b = append(b, '}')
	}
	if r.DeviceOneTimeKeysCount != nil {
		b = appendRooms(append(b, `,"device_one_time_keys_count":`...), r.DeviceOneTimeKeysCount, func(b []byte, n int) []byte {
			return strconv.AppendInt(b, int64(n), 10)
		})
	}
	if r.DeviceUnusedFallbackKeyTypes != nil {
		b = appendStrings(append(b, `,"device_unused_fallback_key_types":`...), r.DeviceUnusedFallbackKeyTypes)
	}
	return b
}

func appendStrings(b []byte, l []string) []byte {
	b = append(b, '[')
	for i, s := range l {
		if i > 0 {
			b = append(b, ',')
		}
		b = canonicaljson.AppendString(b, s)
	}
	return append(b, ']')
}

// appendRooms writes a map of rooms with sorted keys, as encoding/json
// does; a nil map is null.
func appendRooms[R any](b []byte, rooms map[string]R, appendRoom func([]byte, R) []byte) []byte {
	if rooms == nil {
		return append(b, "null"...)
	}
	ids := make([]string, 0, len(rooms))
	for id := range rooms {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	b = append(b, '{')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(canonicaljson.AppendString(b, id), ':')
		b = appendRoom(b, rooms[id])
	}
	return append(b, '}')
}

func appendJoinedRoom(b []byte, room *JoinedRoom) []byte {
	b = appendTimeline(append(b, `{"timeline":`...), room.Timeline)
	b = appendStateLists(b, room.State, room.StateAfter)
	b = appendEventList(append(b, `,"account_data":`...), room.AccountData)
	b = appendEventList(append(b, `,"ephemeral":`...), room.Ephemeral)
	if room.Summary != nil {
		b = appendSummary(append(b, `,"summary":`...), room.Summary)
	}
	if room.UnreadNotifications != nil {
		b = appendCounts(append(b, `,"unread_notifications":`...), *room.UnreadNotifications)
	}
	if len(room.UnreadThreadNotifications) > 0 {
		b = append(b, `,"unread_thread_notifications":`...)
		b = appendRooms(b, room.UnreadThreadNotifications, appendCounts)
	}
	return append(b, '}')
}

func appendLeftRoom(b []byte, room *LeftRoom) []byte {
	b = appendTimeline(append(b, `{"timeline":`...), room.Timeline)
	b = appendStateLists(b, room.State, room.StateAfter)
	b = appendEventList(append(b, `,"account_data":`...), room.AccountData)
	return append(b, '}')
}

func appendTimeline(b []byte, t Timeline) []byte {
	b = appendRaw(append(b, `{"events":`...), t.Events)
	b = strconv.AppendBool(append(b, `,"limited":`...), t.Limited)
	if t.PrevBatch != "" {
		b = canonicaljson.AppendString(append(b, `,"prev_batch":`...), t.PrevBatch)
	}
	return append(b, '}')
}

func appendStateLists(b []byte, state, after *StateList) []byte {
	if state != nil {
		b = append(appendRaw(append(b, `,"state":{"events":`...), state.Events), '}')
	}
	if after != nil {
		b = append(appendRaw(append(b, `,"state_after":{"events":`...), after.Events), '}')
	}
	return b
}

func appendEventList(b []byte, l EventList) []byte {
	b = append(b, `{"events":`...)
	if l.Events == nil {
		return append(b, "null}"...)
	}
	b = append(b, '[')
	for i, ev := range l.Events {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendRaw(b, ev)
	}
	return append(b, "]}"...)
}

// appendRaw writes JSON the server produced; nil is null, as with
// encoding/json.
func appendRaw(b []byte, raw json.RawMessage) []byte {
	if raw == nil {
		return append(b, "null"...)
	}
	return append(b, raw...)
}

func appendSummary(b []byte, s *rooms.Summary) []byte {
	b = append(b, '{')
	if len(s.Heroes) > 0 {
		b = append(appendStrings(append(b, `"m.heroes":`...), s.Heroes), ',')
	}
	b = strconv.AppendInt(append(b, `"m.joined_member_count":`...), int64(s.JoinedMemberCount), 10)
	b = strconv.AppendInt(append(b, `,"m.invited_member_count":`...), int64(s.InvitedMemberCount), 10)
	return append(b, '}')
}

func appendCounts(b []byte, c push.NotificationCounts) []byte {
	b = strconv.AppendInt(append(b, `{"notification_count":`...), c.NotificationCount, 10)
	b = strconv.AppendInt(append(b, `,"highlight_count":`...), c.HighlightCount, 10)
	return append(b, '}')
}
