package authrules

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/axonhs/axon/internal/matrix/roomversion"
)

// tev is the test implementation of Event, built from compact literals.
type tev struct {
	id, room, typ, sender string
	sk                    *string
	content               string
	prev, auth            []string
	redacts               string
	signedBy              []string // servers with a valid signature

	raw     json.RawMessage // content as bytes, cached
	rawFrom string          // the content raw was made from
}

func (e *tev) EventID() string   { return e.id }
func (e *tev) RoomID() string    { return e.room }
func (e *tev) Type() string      { return e.typ }
func (e *tev) StateKey() *string { return e.sk }
func (e *tev) Sender() string    { return e.sender }
func (e *tev) Content() json.RawMessage {
	if e.raw == nil || e.rawFrom != e.content {
		e.raw, e.rawFrom = json.RawMessage(e.content), e.content
	}
	return e.raw
}
func (e *tev) PrevEvents() []string { return e.prev }
func (e *tev) AuthEvents() []string { return e.auth }
func (e *tev) Redacts() string      { return e.redacts }

func strp(s string) *string { return &s }

// withPrev sets prev_events.
func (e *tev) withPrev(ids ...string) *tev { e.prev = ids; return e }

// signed adds servers whose signature the event carries.
func (e *tev) signed(servers ...string) *tev { e.signedBy = append(e.signedBy, servers...); return e }

// Users of the test rooms. alice creates every room.
const (
	alice = "@alice:a"
	bob   = "@bob:b"
	carol = "@carol:c"
	dave  = "@dave:d"
)

// room is a room under test: a version, a create event and current state.
type room struct {
	v       roomversion.Version
	id      string
	create  *tev
	state   map[StateKey]Event
	n       int
	checker Checker
}

// newRoom makes a room created by alice, with alice joined, power levels
// giving alice 100 (v12: no users, alice is a creator), and join rule
// invite. extraCreate is spliced into the create content.
func newRoom(v roomversion.Version, extraCreate string) *room {
	r := &room{v: v, state: map[StateKey]Event{}}
	r.checker.SignedByServer = func(ev Event, server string) bool {
		return slices.Contains(ev.(*tev).signedBy, server)
	}
	content := `{"room_version":"` + v.ID() + `"`
	if !v.CreatorInSender() && !strings.Contains(extraCreate, `"creator"`) {
		content += `,"creator":"` + alice + `"`
	}
	if extraCreate != "" {
		content += "," + extraCreate
	}
	content += "}"
	if v.RoomIDFromCreateEvent() {
		r.id = "!createhash"
		r.create = &tev{id: "$createhash", room: r.id, typ: TypeCreate, sender: alice, sk: strp(""), content: content}
	} else {
		r.id = "!room:a"
		r.create = &tev{id: "$create:a", room: r.id, typ: TypeCreate, sender: alice, sk: strp(""), content: content}
	}
	r.put(r.create)
	r.setMember(alice, "join")
	if v.PrivilegedCreators() {
		r.setPL(`{}`)
	} else {
		r.setPL(`{"users":{"` + alice + `":100}}`)
	}
	r.setJoinRule(JoinRuleInvite)
	return r
}

func (r *room) nextID(sender string) string {
	r.n++
	return "$e" + strconv.Itoa(r.n) + ":" + serverOf(sender)
}

// msg builds a non-state event.
func (r *room) msg(sender, typ, content string) *tev {
	return &tev{id: r.nextID(sender), room: r.id, typ: typ, sender: sender, content: content,
		prev: []string{"$prev:a"}, signedBy: []string{serverOf(sender)}}
}

// st builds a state event.
func (r *room) st(sender, typ, stateKey, content string) *tev {
	e := r.msg(sender, typ, content)
	e.sk = strp(stateKey)
	return e
}

// mem builds an m.room.member event with the given membership.
func (r *room) mem(sender, target, membership string) *tev {
	return r.st(sender, TypeMember, target, `{"membership":"`+membership+`"}`)
}

func (r *room) put(events ...Event) {
	for _, e := range events {
		r.state[StateKey{e.Type(), *e.StateKey()}] = e
	}
}

func (r *room) drop(typ, stateKey string) { delete(r.state, StateKey{typ, stateKey}) }

func (r *room) setMember(user, membership string) { r.put(r.mem(user, user, membership)) }

func (r *room) setPL(content string) { r.put(r.st(alice, TypePowerLevels, "", content)) }

func (r *room) setJoinRule(rule string) {
	r.put(r.st(alice, TypeJoinRules, "", `{"join_rule":"`+rule+`"}`))
}

func (r *room) get(k StateKey) Event {
	if e, ok := r.state[k]; ok {
		return e
	}
	return nil
}

func (r *room) check(ev Event) error { return r.checker.Check(r.v, ev, r.get) }

// verMap maps room versions to an expected outcome: a rule number, or "ok".
type verMap map[int]string

// vm parses "1-5:5.2 6-7:4.2 12:5.3" (ranges may be open: "8-").
func vm(s string) verMap {
	m := verMap{}
	for _, f := range strings.Fields(s) {
		rng, out, ok := strings.Cut(f, ":")
		if !ok {
			panic("bad verMap entry " + f)
		}
		lo, hi := parseRange(rng)
		for i := lo; i <= hi; i++ {
			m[i] = out
		}
	}
	return m
}

func parseRange(rng string) (lo, hi int) {
	a, b, isRange := strings.Cut(rng, "-")
	lo, err := strconv.Atoi(a)
	if err != nil {
		panic("bad range " + rng)
	}
	hi = lo
	if isRange {
		hi = 12
		if b != "" {
			if hi, err = strconv.Atoi(b); err != nil {
				panic("bad range " + rng)
			}
		}
	}
	return lo, hi
}

func ok(rng string) verMap { return vm(rng + ":ok") }

// sub appends a suffix to every rule number.
func (m verMap) sub(suffix string) verMap {
	out := verMap{}
	for k, v := range m {
		out[k] = v + suffix
	}
	return out
}

// only keeps the versions in rng.
func (m verMap) only(rng string) verMap {
	lo, hi := parseRange(rng)
	out := verMap{}
	for k, v := range m {
		if k >= lo && k <= hi {
			out[k] = v
		}
	}
	return out
}

func merge(ms ...verMap) verMap {
	out := verMap{}
	for _, m := range ms {
		maps.Copy(out, m)
	}
	return out
}

// The numbering of the rules, transcribed from the room version pages.
var (
	nCreate      = vm("1-:1")
	nRoomID      = vm("12:2")
	nAuthEvents  = vm("1-11:2 12:3")
	nFederate    = vm("1-11:3 12:4")
	nAliases     = vm("1-5:4")
	nMember      = vm("1-5:5 6-11:4 12:5")
	nAuthoriser  = vm("8-11:4.2.1 12:5.2.1")
	nJoin        = vm("1-5:5.2 6-7:4.2 8-11:4.3 12:5.3")
	nJoinElse    = vm("1-5:5.2.6 6-7:4.2.6 8-11:4.3.7 12:5.3.7")
	nInvite      = vm("1-5:5.3 6-7:4.3 8-11:4.4 12:5.4")
	nLeave       = vm("1-5:5.4 6-7:4.4 8-11:4.5 12:5.5")
	nBan         = vm("1-5:5.5 6-7:4.5 8-11:4.6 12:5.6")
	nKnock       = vm("7:4.6 8-11:4.7 12:5.7")
	nUnknown     = vm("1-5:5.6 6:4.6 7:4.7 8-11:4.8 12:5.8")
	nNotJoined   = vm("1-5:6 6-11:5 12:6")
	nTPIEvent    = vm("1-5:7.1 6-11:6.1 12:7.1")
	nRequired    = vm("1-5:8 6-11:7 12:8")
	nStateKey    = vm("1-5:9 6-11:8 12:9")
	nPLUsers     = vm("1-5:10.1 6-9:9.1 10-11:9.3 12:10.3")
	nPLScalarInt = vm("10-11:9.1 12:10.1")
	nPLMapInt    = vm("10-11:9.2 12:10.2")
	nPLCreators  = vm("12:10.4")
	nPLScalar    = vm("1-5:10.3 6-9:9.3 10-11:9.5 12:10.6")
	nPLMapCur    = vm("1-5:10.4.1 6-9:9.4.1 10-11:9.6.1 12:10.7.1")
	nPLMapNew    = vm("1-5:10.5.1 6-9:9.5.1 10-11:9.7.1 12:10.8.1")
	nPLUserCur   = vm("1-5:10.6.1 6-9:9.6.1 10-11:9.8.1 12:10.9.1")
	nPLUserNew   = vm("1-5:10.7.1 6-9:9.7.1 10-11:9.9.1 12:10.10.1")
	nRedaction   = vm("1-2:11.3")
)

// authCase is one row of the table tests: a room set up by setup, an event,
// and per room version the expected outcome.
type authCase struct {
	name   string
	want   verMap
	rule   string // expected RuleError.Name when rejected; "" not checked
	create string // extra m.room.create content
	setup  func(r *room)
	event  func(r *room) Event
}

func runCases(t *testing.T, cases []authCase) {
	t.Helper()
	for _, tc := range cases {
		if len(tc.want) == 0 {
			t.Fatalf("%s: no expectations", tc.name)
		}
		for _, ver := range slices.Sorted(maps.Keys(tc.want)) {
			want := tc.want[ver]
			t.Run(tc.name+"/v"+strconv.Itoa(ver), func(t *testing.T) {
				r := newRoom(roomversion.MustLookup(strconv.Itoa(ver)), tc.create)
				if tc.setup != nil {
					tc.setup(r)
				}
				err := r.check(tc.event(r))
				assertOutcome(t, err, want, tc.rule)
			})
		}
	}
}

func assertOutcome(t *testing.T, err error, want, name string) {
	t.Helper()
	if want == "ok" {
		if err != nil {
			t.Fatalf("want allowed, got %v", err)
		}
		return
	}
	var re *RuleError
	if !errors.As(err, &re) {
		t.Fatalf("want rejection by rule %s, got %v", want, err)
	}
	if re.Rule != want {
		t.Fatalf("want rule %s, got %v", want, err)
	}
	if name != "" && re.Name != name {
		t.Fatalf("want rule name %s, got %v", name, err)
	}
}

func mustVersion(id string) roomversion.Version { return roomversion.MustLookup(id) }

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}
