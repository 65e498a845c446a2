package rooms

import (
	"encoding/json"
	"strconv"

	"github.com/axonhs/axon/internal/matrix/canonicaljson"
	"github.com/axonhs/axon/internal/matrix/rawjson"
	"github.com/axonhs/axon/internal/storage"
)

// Event is a stored event as the client API serves it.
type Event struct {
	storage.EventRow
	// PrevContent and PrevSender describe the state event this one
	// replaced (unsigned.prev_content, unsigned.prev_sender).
	PrevContent json.RawMessage
	PrevSender  string
	// RedactedBecause is the redaction event, client-formatted, when the
	// event is redacted.
	RedactedBecause json.RawMessage
	// Membership is the requesting user's membership at the event
	// (unsigned.membership, MSC4115); "" when not computed.
	Membership string
}

// Format controls how events are rendered for a client.
type Format struct {
	NowMS int64
	// OmitRoomID renders ClientEventWithoutRoomID, as /sync does.
	OmitRoomID bool
	// DeviceID is the requesting device: its own sends carry
	// unsigned.transaction_id.
	UserID   string
	DeviceID string
}

// pduFields are copied from the PDU into the client event as they are,
// in this order.
var pduFields = [...]string{"content", "origin_server_ts", "redacts", "sender", "state_key", "type"}

// AppendClientEvent appends the client-server API form of ev to dst:
// the PDU's client-visible fields plus event_id, room_id and unsigned.
func AppendClientEvent(dst []byte, ev *Event, f Format) []byte {
	dst = append(dst, `{"event_id":`...)
	dst = canonicaljson.AppendString(dst, ev.EventID)
	if !f.OmitRoomID {
		dst = append(dst, `,"room_id":`...)
		dst = canonicaljson.AppendString(dst, ev.RoomID)
	}
	for i, v := range clientFields(ev.PDU) {
		if v != nil {
			dst = append(dst, ',')
			dst = canonicaljson.AppendString(dst, pduFields[i])
			dst = append(dst, ':')
			dst = append(dst, v...)
		}
	}
	dst = append(dst, `,"unsigned":{"age":`...)
	dst = strconv.AppendInt(dst, max(0, f.NowMS-ev.OriginServerTS), 10)
	if ev.TxnID != "" && ev.Sender == f.UserID && ev.DeviceID == f.DeviceID {
		dst = append(dst, `,"transaction_id":`...)
		dst = canonicaljson.AppendString(dst, ev.TxnID)
	}
	if ev.PrevContent != nil {
		dst = append(dst, `,"prev_content":`...)
		dst = append(dst, ev.PrevContent...)
		dst = append(dst, `,"prev_sender":`...)
		dst = canonicaljson.AppendString(dst, ev.PrevSender)
		dst = append(dst, `,"replaces_state":`...)
		dst = canonicaljson.AppendString(dst, ev.ReplacesState)
	}
	if ev.Membership != "" {
		dst = append(dst, `,"membership":`...)
		dst = canonicaljson.AppendString(dst, ev.Membership)
	}
	if ev.RedactedBecause != nil {
		dst = append(dst, `,"redacted_because":`...)
		dst = append(dst, ev.RedactedBecause...)
	}
	return append(dst, "}}"...)
}

// clientFields finds the values of pduFields in one pass over the PDU
// (nil where absent): a lookup per field would scan the signatures and
// hashes six times.
func clientFields(pdu []byte) (vals [len(pduFields)][]byte) {
	it, ok := rawjson.Object(pdu)
	if !ok {
		return vals
	}
	for {
		m, ok := it.Next()
		if !ok {
			return vals
		}
		for i, k := range pduFields {
			if vals[i] == nil && m.KeyIs(k) {
				vals[i] = m.Value
				break
			}
		}
	}
}

// ClientEvent renders ev alone.
func ClientEvent(ev *Event, f Format) json.RawMessage {
	return AppendClientEvent(nil, ev, f)
}

// ClientEvents renders a list as a JSON array.
func ClientEvents(evs []*Event, f Format) json.RawMessage {
	dst := append(make([]byte, 0, 512*len(evs)), '[')
	for i, ev := range evs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendClientEvent(dst, ev, f)
	}
	return append(dst, ']')
}
