package stateres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/axonhs/axon/internal/matrix/authrules"
	"github.com/axonhs/axon/internal/matrix/roomversion"
)

// testEvent is the Event implementation of the tests.
type testEvent struct {
	id       string
	typ      string
	stateKey *string
	sender   string
	content  json.RawMessage
	auth     []string
	prev     []string
	ts       int64
	depth    int64
	rejected bool
}

func (e *testEvent) EventID() string          { return e.id }
func (e *testEvent) Type() string             { return e.typ }
func (e *testEvent) StateKey() *string        { return e.stateKey }
func (e *testEvent) Sender() string           { return e.sender }
func (e *testEvent) Content() json.RawMessage { return e.content }
func (e *testEvent) AuthEvents() []string     { return slices.Clone(e.auth) }
func (e *testEvent) PrevEvents() []string     { return slices.Clone(e.prev) }
func (e *testEvent) OriginServerTS() int64    { return e.ts }
func (e *testEvent) Depth() int64             { return e.depth }
func (e *testEvent) Rejected() bool           { return e.rejected }

const (
	alice   = "@alice:example.com"
	bob     = "@bob:example.com"
	charlie = "@charlie:example.com"
	evelyn  = "@evelyn:example.com"
	zara    = "@zara:example.com"
)

func sp(s string) *string { return &s }

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// store is an in-memory event store with a loader that counts its calls.
type store struct {
	events map[string]*testEvent
	loads  int
	loaded int
	fail   error
}

func newStore() *store { return &store{events: make(map[string]*testEvent)} }

func (s *store) add(e *testEvent) *testEvent {
	if _, dup := s.events[e.id]; dup {
		panic("duplicate event " + e.id)
	}
	s.events[e.id] = e
	return e
}

func (s *store) load(ids []string) (map[string]Event, error) {
	s.loads++
	s.loaded += len(ids)
	if s.fail != nil {
		return nil, s.fail
	}
	out := make(map[string]Event, len(ids))
	for _, id := range ids {
		if e, ok := s.events[id]; ok {
			out[id] = e
		}
	}
	return out, nil
}

func (s *store) resolve(t testing.TB, v roomversion.Version, sets ...StateMap) StateMap {
	t.Helper()
	res, err := Resolve(context.Background(), v, sets, s.load, testAuth(v))
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	return res
}

// ---------------------------------------------------------------------------
// A simplified version of the authorisation rules: enough of them for the
// scenarios (membership, power levels, join rules, required levels), with
// room version 12 creators of infinite power.

var errDenied = errors.New("denied")

func deny(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errDenied, fmt.Sprintf(format, args...))
}

const infiniteTestLevel = int64(1) << 62

func testAuth(v roomversion.Version) AuthCheck {
	return func(ev Event, state func(StateKey) Event) error {
		if ev.Type() == typeCreate {
			if len(ev.PrevEvents()) > 0 {
				return deny("create with prev events")
			}
			return nil
		}
		create := state(createKey)
		if create == nil {
			return deny("no create event")
		}
		var creators map[string]bool
		if v.PrivilegedCreators() {
			creators = creatorsOf(create)
		}
		pl := state(powerLevelsKey)
		level := func(user string) int64 {
			if creators[user] {
				return infiniteTestLevel
			}
			if pl != nil {
				return authrules.UserLevel(v, pl.Content(), user)
			}
			if !v.PrivilegedCreators() && creatorOf(v, create) == user {
				return 100
			}
			return 0
		}
		field := func(name string, def int64) int64 {
			if pl == nil {
				if name == "state_default" {
					return 0
				}
				return def
			}
			var c map[string]json.RawMessage
			_ = json.Unmarshal(pl.Content(), &c)
			if n, ok := authrules.ParseLevel(v, c[name]); ok {
				return n
			}
			return def
		}
		membershipOf := func(user string) string {
			if m := state(StateKey{typeMember, user}); m != nil {
				return membership(m)
			}
			return "leave"
		}
		sender := ev.Sender()
		sk := ev.StateKey()

		if ev.Type() == typeMember {
			if sk == nil {
				return deny("member without state key")
			}
			target := *sk
			cur := membershipOf(target)
			switch membership(ev) {
			case "join":
				prev := ev.PrevEvents()
				if len(prev) == 1 && prev[0] == create.EventID() && target == creatorOf(v, create) {
					return nil
				}
				if sender != target {
					return deny("join for someone else")
				}
				if cur == "ban" {
					return deny("banned")
				}
				rule := ""
				if jr := state(joinRulesKey); jr != nil {
					var c struct {
						JoinRule string `json:"join_rule"`
					}
					_ = json.Unmarshal(jr.Content(), &c)
					rule = c.JoinRule
				}
				switch rule {
				case "public":
					return nil
				case "invite":
					if cur == "invite" || cur == "join" {
						return nil
					}
				}
				return deny("join rule %q", rule)
			case "invite":
				if membershipOf(sender) != "join" {
					return deny("inviter not joined")
				}
				if cur == "join" || cur == "ban" {
					return deny("invitee is %s", cur)
				}
				if level(sender) >= field("invite", 0) {
					return nil
				}
				return deny("invite level")
			case "leave":
				if sender == target {
					if cur == "invite" || cur == "join" || cur == "knock" {
						return nil
					}
					return deny("leave while %s", cur)
				}
				if membershipOf(sender) != "join" {
					return deny("kicker not joined")
				}
				if cur == "ban" && level(sender) < field("ban", 50) {
					return deny("unban level")
				}
				if level(sender) >= field("kick", 50) && level(target) < level(sender) {
					return nil
				}
				return deny("kick level")
			case "ban":
				if membershipOf(sender) != "join" {
					return deny("banner not joined")
				}
				if level(sender) >= field("ban", 50) && level(target) < level(sender) {
					return nil
				}
				return deny("ban level")
			}
			return deny("unknown membership")
		}

		if membershipOf(sender) != "join" {
			return deny("sender %s not joined", sender)
		}
		required := field("events_default", 0)
		if sk != nil {
			required = field("state_default", 50)
		}
		if pl != nil {
			var c struct {
				Events map[string]json.RawMessage `json:"events"`
			}
			_ = json.Unmarshal(pl.Content(), &c)
			if n, ok := authrules.ParseLevel(v, c.Events[ev.Type()]); ok {
				required = n
			}
		}
		senderLevel := level(sender)
		if required > senderLevel {
			return deny("needs level %d, has %d", required, senderLevel)
		}
		if sk != nil && strings.HasPrefix(*sk, "@") && *sk != sender {
			return deny("state key of another user")
		}
		if ev.Type() == typePowerLevels && pl != nil {
			return checkPowerLevelsChange(v, pl.Content(), ev.Content(), sender, senderLevel)
		}
		return nil
	}
}

func checkPowerLevelsChange(v roomversion.Version, oldC, newC json.RawMessage, sender string, senderLevel int64) error {
	type levels struct {
		Users  map[string]json.RawMessage `json:"users"`
		Events map[string]json.RawMessage `json:"events"`
	}
	var o, n levels
	var oTop, nTop map[string]json.RawMessage
	_ = json.Unmarshal(oldC, &o)
	_ = json.Unmarshal(newC, &n)
	_ = json.Unmarshal(oldC, &oTop)
	_ = json.Unmarshal(newC, &nTop)
	for _, name := range []string{"users_default", "events_default", "state_default", "ban", "redact", "kick", "invite"} {
		ov, oOK := authrules.ParseLevel(v, oTop[name])
		nv, nOK := authrules.ParseLevel(v, nTop[name])
		if oOK == nOK && ov == nv {
			continue
		}
		if (oOK && ov > senderLevel) || (nOK && nv > senderLevel) {
			return deny("changes %s beyond own level", name)
		}
	}
	for name := range mapsUnion(o.Events, n.Events) {
		ov, oOK := authrules.ParseLevel(v, o.Events[name])
		nv, nOK := authrules.ParseLevel(v, n.Events[name])
		if oOK == nOK && ov == nv {
			continue
		}
		if (oOK && ov > senderLevel) || (nOK && nv > senderLevel) {
			return deny("changes events[%s] beyond own level", name)
		}
	}
	for user := range mapsUnion(o.Users, n.Users) {
		ov, oOK := authrules.ParseLevel(v, o.Users[user])
		nv, nOK := authrules.ParseLevel(v, n.Users[user])
		if oOK == nOK && ov == nv {
			continue
		}
		if oOK && user != sender && ov >= senderLevel {
			return deny("changes level of %s who is not below", user)
		}
		if nOK && nv > senderLevel {
			return deny("raises %s beyond own level", user)
		}
	}
	return nil
}

func mapsUnion(a, b map[string]json.RawMessage) map[string]bool {
	out := make(map[string]bool, len(a)+len(b))
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

func acceptAll(Event, func(StateKey) Event) error { return nil }

// ---------------------------------------------------------------------------
// Scenario graphs: events named by node IDs, prev edges given as chains,
// the state at every event computed in topological order with Resolve and
// the auth events selected from the state before each event, like a server
// would.

type node struct {
	id       string
	sender   string
	typ      string
	stateKey *string
	content  any
}

func member(id, sender, target, m string) node {
	return node{id, sender, typeMember, sp(target), map[string]any{"membership": m}}
}

func stateNode(id, sender, typ string, content any) node {
	return node{id, sender, typ, sp(""), content}
}

func powerLevels(id, sender string, users map[string]int) node {
	return stateNode(id, sender, typePowerLevels, map[string]any{"users": users})
}

func topic(id, sender string) node {
	return stateNode(id, sender, "m.room.topic", map[string]any{"topic": id})
}

func eventID(nodeID string) string { return "$" + nodeID + ":example.com" }

func initialNodes(v roomversion.Version) []node {
	createContent := map[string]any{"creator": alice}
	if v.CreatorInSender() {
		createContent = map[string]any{}
	}
	return []node{
		stateNode("CREATE", alice, typeCreate, createContent),
		member("IMA", alice, alice, "join"),
		powerLevels("IPOWER", alice, map[string]int{alice: 100}),
		stateNode("IJR", alice, typeJoinRules, map[string]any{"join_rule": "public"}),
		member("IMB", bob, bob, "join"),
		member("IMC", charlie, charlie, "join"),
		member("IMZ", zara, zara, "join"),
		{"START", zara, "m.room.message", nil, map[string]any{}},
		{"END", zara, "m.room.message", nil, map[string]any{}},
	}
}

var initialEdges = []string{"START", "IMZ", "IMC", "IMB", "IJR", "IPOWER", "IMA", "CREATE"}

type graph struct {
	v       roomversion.Version
	st      *store
	byNode  map[string]*testEvent
	stateAt map[string]StateMap // state after each node
	order   []string            // topological order of node IDs
}

// authTypes is the auth events selection of the server-server API for ev.
func authTypes(v roomversion.Version, typ, sender string, stateKey *string, content any) []StateKey {
	var keys []StateKey
	if typ == typeCreate {
		return nil
	}
	if v.CreateEventInAuthEvents() {
		keys = append(keys, createKey)
	}
	keys = append(keys, powerLevelsKey, StateKey{typeMember, sender})
	if typ == typeMember && stateKey != nil {
		keys = append(keys, StateKey{typeMember, *stateKey})
		m, _ := content.(map[string]any)["membership"].(string)
		if m == "join" || m == "invite" || m == "knock" {
			keys = append(keys, joinRulesKey)
		}
	}
	return keys
}

func buildGraph(t testing.TB, v roomversion.Version, nodes []node, edges [][]string) *graph {
	t.Helper()
	all := append(initialNodes(v), nodes...)
	byID := make(map[string]node, len(all))
	prevs := make(map[string]map[string]bool, len(all))
	for _, n := range all {
		byID[n.id] = n
		prevs[n.id] = map[string]bool{}
	}
	for _, chain := range append([][]string{initialEdges}, edges...) {
		for i := 0; i+1 < len(chain); i++ {
			prevs[chain[i]][chain[i+1]] = true
		}
	}
	// Kahn's algorithm, oldest first, ties by node ID.
	var order []string
	done := map[string]bool{}
	for len(order) < len(all) {
		var ready []string
		for id, ps := range prevs {
			if done[id] {
				continue
			}
			ok := true
			for p := range ps {
				if !done[p] {
					ok = false
				}
			}
			if ok {
				ready = append(ready, id)
			}
		}
		if len(ready) == 0 {
			t.Fatal("cycle in scenario graph")
		}
		slices.Sort(ready)
		done[ready[0]] = true
		order = append(order, ready[0])
	}

	g := &graph{v: v, st: newStore(), byNode: map[string]*testEvent{}, stateAt: map[string]StateMap{}, order: order}
	for i, id := range order {
		n := byID[id]
		var prevIDs []string
		var before StateMap
		var depth int64
		var sets []StateMap
		for _, p := range slices.Sorted(maps.Keys(prevs[id])) {
			prevIDs = append(prevIDs, eventID(p))
			sets = append(sets, g.stateAt[p])
			depth = max(depth, g.byNode[p].depth+1)
		}
		switch len(sets) {
		case 0:
			before = StateMap{}
		case 1:
			before = sets[0].Clone()
		default:
			before = g.st.resolve(t, v, sets...)
		}
		var auth []string
		for _, k := range authTypes(v, n.typ, n.sender, n.stateKey, n.content) {
			if a, ok := before[k]; ok && !slices.Contains(auth, a) {
				auth = append(auth, a)
			}
		}
		ev := g.st.add(&testEvent{
			id: eventID(id), typ: n.typ, stateKey: n.stateKey, sender: n.sender,
			content: mustJSON(n.content), auth: auth, prev: prevIDs, ts: int64(i), depth: depth,
		})
		g.byNode[id] = ev
		after := before
		if n.stateKey != nil {
			after = before.Clone()
			after[StateKey{n.typ, *n.stateKey}] = ev.id
		}
		g.stateAt[id] = after
	}
	return g
}

// checkScenario asserts that the state at END, restricted to the keys of
// the expected events and the keys changed since START, is exactly the
// expected events.
func checkScenario(t *testing.T, v roomversion.Version, nodes []node, edges [][]string, expected []string) *graph {
	t.Helper()
	g := buildGraph(t, v, nodes, edges)
	want := StateMap{}
	for _, id := range expected {
		ev := g.byNode[id]
		want[StateKey{ev.typ, *ev.stateKey}] = ev.id
	}
	start, end := g.stateAt["START"], g.stateAt["END"]
	got := StateMap{}
	for k, id := range end {
		if _, ok := want[k]; ok || start[k] != id {
			got[k] = id
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("room version %s: state at END\n got %v\nwant %v", v, nodeNames(got), nodeNames(want))
	}
	return g
}

func nodeNames(m StateMap) []string {
	var out []string
	for k, id := range m {
		out = append(out, fmt.Sprintf("%s/%s=%s", k.Type, k.StateKey, strings.TrimSuffix(strings.TrimPrefix(id, "$"), ":example.com")))
	}
	slices.Sort(out)
	return out
}
