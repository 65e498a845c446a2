package authrules

import (
	"encoding/json"
	"strconv"

	"github.com/axonhs/axon/internal/matrix/id"
	"github.com/axonhs/axon/internal/matrix/rawjson"
	"github.com/axonhs/axon/internal/matrix/roomversion"
)

// powerLevels is a decoded m.room.power_levels content.
type powerLevels struct {
	scalars       [len(scalarKeys)]int64
	hasScalar     [len(scalarKeys)]bool
	events        map[string]int64
	notifications map[string]int64
	users         map[string]int64
}

// parsePowerLevelsStrict decodes the content of an m.room.power_levels
// event being authorised, applying the structure checks of room version v:
//
//   - v10 onwards: the type rules added by MSC3667 (integers only, events
//     and notifications objects of integers) and the users rule.
//   - v1–v9: the users rule, with string and (v1–v5) float values
//     accepted. The spec does not say what happens to other properties
//     that are not power levels ("ban": "abc"); every implementation fails
//     on them, so they are rejected here too, as "power_levels.malformed"
//     under the users rule's number. JSON null counts as absent for them
//     (also as a value in events and notifications), as in Synapse.
func parsePowerLevelsStrict(v roomversion.Version, content []byte) (*powerLevels, rule, string) {
	pl := &powerLevels{}
	if !json.Valid(content) {
		return nil, rulePLMalformed, "content is not valid JSON"
	}
	it, ok := rawjson.Object(content)
	if !ok {
		return nil, rulePLMalformed, "content is not an object"
	}
	intOnly := v.IntegerOnlyPowerLevels()
	var eventsRaw, notifRaw, usersRaw []byte
	var hasUsers bool
	for {
		mem, ok := it.Next()
		if !ok {
			break
		}
		val := mem.Value
		name, _ := mem.Name()
		switch name {
		case "events":
			eventsRaw = val
		case "notifications":
			notifRaw = val
		case "users":
			usersRaw, hasUsers = val, true
		default:
			for i, sk := range scalarKeys {
				if name != sk {
					continue
				}
				if !intOnly && rawjson.IsNull(val) {
					break
				}
				l, ok := ParseLevel(v, val)
				if !ok {
					if intOnly {
						return nil, rulePLScalarsNotInt, name + " is not an integer"
					}
					return nil, rulePLMalformed, name + " is not a power level"
				}
				pl.scalars[i], pl.hasScalar[i] = l, true
			}
		}
	}
	if it.Malformed() {
		return nil, rulePLMalformed, "content is not a well-formed object"
	}

	mapRule := rulePLMalformed
	if intOnly {
		mapRule = rulePLMapsNotInt
	}
	var bad string
	if eventsRaw != nil && (intOnly || !rawjson.IsNull(eventsRaw)) {
		if pl.events, bad = parseLevelMap(v, eventsRaw, false, !intOnly); pl.events == nil {
			return nil, mapRule, "events: " + bad
		}
	}
	if notifRaw != nil && v.NotificationsPowerLevels() && (intOnly || !rawjson.IsNull(notifRaw)) {
		if pl.notifications, bad = parseLevelMap(v, notifRaw, false, !intOnly); pl.notifications == nil {
			return nil, mapRule, "notifications: " + bad
		}
	}
	if hasUsers {
		if pl.users, bad = parseLevelMap(v, usersRaw, true, false); pl.users == nil {
			return nil, rulePLUsers, "users: " + bad
		}
	}
	return pl, 0, ""
}

// parseLevelMap decodes an object of power levels, strictly; keys must be
// user IDs when userKeys is set; null values are skipped when nullIsAbsent
// is set. It returns nil and the problem on failure.
func parseLevelMap(v roomversion.Version, raw []byte, userKeys, nullIsAbsent bool) (map[string]int64, string) {
	it, ok := rawjson.Object(raw)
	if !ok {
		return nil, "not an object"
	}
	m := make(map[string]int64)
	for {
		mem, ok := it.Next()
		if !ok {
			break
		}
		val := mem.Value
		key, ok := mem.Name()
		if !ok {
			return nil, "bad key"
		}
		if userKeys {
			if _, err := id.ParseUserIDLenient(key); err != nil {
				return nil, strconv.Quote(key) + " is not a user ID"
			}
		}
		if nullIsAbsent && rawjson.IsNull(val) {
			continue
		}
		l, ok := ParseLevel(v, val)
		if !ok {
			return nil, "value for " + strconv.Quote(key) + " is not a power level"
		}
		m[key] = l
	}
	if it.Malformed() {
		return nil, "malformed object"
	}
	return m, ""
}

// parsePowerLevelsLenient decodes power levels already in the room state:
// invalid entries are skipped, as if absent.
func parsePowerLevelsLenient(v roomversion.Version, content []byte) *powerLevels {
	pl := &powerLevels{}
	it, ok := rawjson.Object(content)
	if !ok {
		return pl
	}
	lenientMap := func(raw []byte) map[string]int64 {
		m := make(map[string]int64)
		it, ok := rawjson.Object(raw)
		if !ok {
			return m
		}
		for {
			mem, ok := it.Next()
			if !ok {
				return m
			}
			val := mem.Value
			key, ok1 := mem.Name()
			l, ok2 := ParseLevel(v, val)
			if ok1 && ok2 {
				m[key] = l
			}
		}
	}
	for {
		mem, ok := it.Next()
		if !ok {
			break
		}
		val := mem.Value
		name, _ := mem.Name()
		switch name {
		case "events":
			pl.events = lenientMap(val)
		case "notifications":
			if v.NotificationsPowerLevels() {
				pl.notifications = lenientMap(val)
			}
		case "users":
			pl.users = lenientMap(val)
		default:
			for i, sk := range scalarKeys {
				if name == sk {
					pl.scalars[i], pl.hasScalar[i] = ParseLevel(v, val)
				}
			}
		}
	}
	return pl
}

// checkPowerLevels applies the m.room.power_levels rule (rule 10 in v1–v5
// and v12, rule 9 in v6–v11). senderLevel is the sender's current level.
func checkPowerLevels(s *roomState, ev Event, senderLevel int64) *RuleError {
	v := s.v
	next, r, reason := parsePowerLevelsStrict(v, ev.Content())
	if next == nil {
		return reject(v, r, reason)
	}
	// v12 (MSC4289): creators have infinite power and may not be listed.
	if v.PrivilegedCreators() {
		for u := range next.users {
			if s.isPrivilegedCreator(u) {
				return reject(v, rulePLCreatorsInUsers, u+" is a room creator and cannot be given a power level")
			}
		}
	}
	prevEv := s.powerLevels()
	if prevEv == nil {
		return nil
	}
	prev := parsePowerLevelsLenient(v, prevEv.Content())

	for i, key := range scalarKeys {
		if prev.hasScalar[i] == next.hasScalar[i] && prev.scalars[i] == next.scalars[i] {
			continue
		}
		if prev.hasScalar[i] && prev.scalars[i] > senderLevel {
			return reject(v, rulePLScalarCurrent, "current "+key+" is above the sender's power level")
		}
		if next.hasScalar[i] && next.scalars[i] > senderLevel {
			return reject(v, rulePLScalarNew, "new "+key+" is above the sender's power level")
		}
	}

	maps := []struct {
		name       string
		prev, next map[string]int64
	}{{"events", prev.events, next.events}}
	if v.NotificationsPowerLevels() {
		maps = append(maps, struct {
			name       string
			prev, next map[string]int64
		}{"notifications", prev.notifications, next.notifications})
	}
	// Entries changed or removed: the current value must not exceed the
	// sender's level.
	for _, m := range maps {
		for k, old := range m.prev {
			if nv, ok := m.next[k]; ok && nv == old {
				continue
			}
			if old > senderLevel {
				return reject(v, rulePLMapCurrent, "current "+m.name+"["+strconv.Quote(k)+"] is above the sender's power level")
			}
		}
	}
	// Entries added or changed: the new value must not exceed it.
	for _, m := range maps {
		for k, nv := range m.next {
			if old, ok := m.prev[k]; ok && nv == old {
				continue
			}
			if nv > senderLevel {
				return reject(v, rulePLMapNew, "new "+m.name+"["+strconv.Quote(k)+"] is above the sender's power level")
			}
		}
	}

	sender := ev.Sender()
	for u, old := range prev.users {
		if nv, ok := next.users[u]; ok && nv == old {
			continue
		}
		if u != sender && old >= senderLevel {
			return reject(v, rulePLUserCurrent, "cannot change the level of "+u+", who is not below the sender")
		}
	}
	for u, nv := range next.users {
		if old, ok := prev.users[u]; ok && nv == old {
			continue
		}
		if nv > senderLevel {
			return reject(v, rulePLUserNew, "new level of "+u+" is above the sender's power level")
		}
	}
	return nil
}
