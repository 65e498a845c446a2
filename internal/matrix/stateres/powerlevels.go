package stateres

import (
	"encoding/json"

	"github.com/axonhs/axon/internal/matrix/authrules"
	"github.com/axonhs/axon/internal/matrix/roomversion"
)

// power is a user's power level; inf marks a room creator in room version
// 12, whose level is infinitely high (MSC4289).
type power struct {
	inf   bool
	level int64
}

// greater reports whether p is a higher power level than q.
func (p power) greater(q power) bool {
	if p.inf || q.inf {
		return p.inf && !q.inf
	}
	return p.level > q.level
}

// creatorDefaultLevel is the room creator's power level when the room has
// no m.room.power_levels event (room versions 1–11).
const creatorDefaultLevel = 100

// senderPower returns the power level of ev's sender "when looking at
// [its] auth_events" (rooms/v2, reverse topological power ordering): the
// level the m.room.power_levels event among ev's auth events gives; with no
// such event, 100 for the room creator and 0 for anyone else. Room
// creators of room version 12 have infinite power (MSC4289).
func (r *resolver) senderPower(ev Event) power {
	sender := ev.Sender()
	if r.creators[sender] {
		return power{inf: true}
	}
	var pl, create Event
	for _, id := range r.auth(ev) {
		a := r.get(id)
		if a == nil {
			continue
		}
		k, ok := keyOf(a)
		if !ok {
			continue
		}
		switch k {
		case powerLevelsKey:
			if pl == nil {
				pl = a
			}
		case createKey:
			if create == nil {
				create = a
			}
		}
	}
	if pl != nil {
		return power{level: authrules.UserLevel(r.v, pl.Content(), sender)}
	}
	if create != nil && !r.v.PrivilegedCreators() && creatorOf(r.v, create) == sender {
		return power{level: creatorDefaultLevel}
	}
	return power{}
}

// creatorOf returns the room creator named by a create event: its sender
// from room version 11 (MSC2175), content.creator before.
func creatorOf(v roomversion.Version, create Event) string {
	if v.CreatorInSender() {
		return create.Sender()
	}
	var c struct {
		Creator json.RawMessage `json:"creator"`
	}
	if json.Unmarshal(create.Content(), &c) != nil {
		return ""
	}
	var s string
	if json.Unmarshal(c.Creator, &s) != nil {
		return ""
	}
	return s
}
