package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// walker collects diagnostics while reading a yaml.Node tree. Working on
// nodes rather than decoding into structs is what lets every message carry
// the key path and line number.
type walker struct {
	diags Diagnostics

	suggestions int // typo suggestions made; capped to bound the cost
}

func (w *walker) add(sev Severity, n *yaml.Node, key, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	w.diags = append(w.diags, Diagnostic{Severity: sev, Key: key, Line: line, Message: fmt.Sprintf(format, args...)})
}

func (w *walker) errorf(n *yaml.Node, key, format string, args ...any) {
	w.add(Error, n, key, format, args...)
}

func (w *walker) warnf(n *yaml.Node, key, format string, args ...any) {
	w.add(Warning, n, key, format, args...)
}

// child and index build the dotted key paths used in messages.
func child(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func index(parent string, i int) string { return fmt.Sprintf("%s[%d]", parent, i) }

// resolve follows aliases (*anchor) to the node they stand for.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// entry is one key/value pair of a mapping.
type entry struct {
	key     string
	keyNode *yaml.Node
	val     *yaml.Node
}

// entries returns the pairs of a mapping node in file order, with merge keys
// (<<: *anchor) expanded and duplicates reduced to the last occurrence, which
// is what PyYAML (and so Synapse) does. A duplicate gets a warning because it
// is almost always an editing mistake.
func (w *walker) entries(n *yaml.Node, path string) []entry {
	n = resolve(n)
	var out []entry
	pos := map[string]int{}
	var visit func(m *yaml.Node, depth int, merged bool)
	visit = func(m *yaml.Node, depth int, merged bool) {
		m = resolve(m)
		if m == nil || m.Kind != yaml.MappingNode || depth > 10 {
			return
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], m.Content[i+1]
			if k.Tag == "!!merge" || (k.Value == "<<" && k.Style == 0) {
				src := resolve(v)
				if src != nil && src.Kind == yaml.SequenceNode {
					for _, s := range src.Content {
						visit(s, depth+1, true)
					}
				} else {
					visit(src, depth+1, true)
				}
				continue
			}
			e := entry{key: k.Value, keyNode: k, val: v}
			if j, ok := pos[e.key]; ok {
				if merged {
					// Explicit keys win over merged ones.
					continue
				}
				if !isMergedEntry(out[j], m) {
					w.warnf(k, child(path, e.key), "duplicate key; the value on line %d is ignored", out[j].keyNode.Line)
				}
				out[j] = e
				continue
			}
			pos[e.key] = len(out)
			out = append(out, e)
		}
	}
	visit(n, 0, false)
	return out
}

// isMergedEntry reports whether e came from a merge rather than from m itself.
func isMergedEntry(e entry, m *yaml.Node) bool {
	for i := 0; i < len(m.Content); i += 2 {
		if m.Content[i] == e.keyNode {
			return false
		}
	}
	return true
}

// kindName describes a node for "got ..." messages.
func kindName(n *yaml.Node) string {
	n = resolve(n)
	switch {
	case n == nil:
		return "nothing"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Tag == "!!null":
		return "null"
	case n.Tag == "!!str":
		return strconv.Quote(n.Value)
	default:
		return n.Value
	}
}

// mapping checks that n is a mapping (null counts as an empty one) and
// returns its entries.
func (w *walker) mapping(n *yaml.Node, path string) ([]entry, bool) {
	if isNull(n) {
		return nil, true
	}
	if resolve(n).Kind != yaml.MappingNode {
		w.errorf(n, path, "expected a mapping of keys to values, got %s", kindName(n))
		return nil, false
	}
	return w.entries(n, path), true
}

// str reads a string. Numbers are accepted as their literal text because
// Synapse converts values like `default_room_version: 10` with str().
func (w *walker) str(n *yaml.Node, path string) (string, bool) {
	n = resolve(n)
	if n != nil && n.Kind == yaml.ScalarNode {
		switch n.Tag {
		case "!!str", "!!int", "!!float":
			return n.Value, true
		}
	}
	w.errorf(n, path, "expected a string, got %s", kindName(n))
	return "", false
}

// yaml11Bools are the YAML 1.1 spellings PyYAML reads as booleans; yaml.v3
// follows YAML 1.2 and leaves them as strings, so they are handled here.
var yaml11Bools = map[string]bool{
	"yes": true, "Yes": true, "YES": true, "on": true, "On": true, "ON": true,
	"no": false, "No": false, "NO": false, "off": false, "Off": false, "OFF": false,
}

func (w *walker) boolean(n *yaml.Node, path string) (bool, bool) {
	n = resolve(n)
	if n != nil && n.Kind == yaml.ScalarNode {
		if n.Tag == "!!bool" {
			var b bool
			if n.Decode(&b) == nil {
				return b, true
			}
		}
		if b, ok := yaml11Bools[n.Value]; ok && n.Style == 0 {
			return b, true
		}
	}
	w.errorf(n, path, "expected true or false, got %s", kindName(n))
	return false, false
}

func (w *walker) integer(n *yaml.Node, path string) (int64, bool) {
	n = resolve(n)
	if n != nil && n.Kind == yaml.ScalarNode && n.Tag == "!!int" {
		var v int64
		if n.Decode(&v) == nil {
			return v, true
		}
	}
	w.errorf(n, path, "expected an integer, got %s", kindName(n))
	return 0, false
}

// intRange reads an integer within [lo, hi]; what names the value in the
// message, e.g. "port".
func (w *walker) intRange(n *yaml.Node, path, what string, lo, hi int64) (int, bool) {
	rn := resolve(n)
	var v int64
	ok := rn != nil && rn.Kind == yaml.ScalarNode && rn.Tag == "!!int" && rn.Decode(&v) == nil
	if !ok || v < lo || v > hi {
		if hi == math.MaxInt32 {
			w.errorf(n, path, "expected an integer %s >= %d, got %s", what, lo, kindName(n))
		} else {
			w.errorf(n, path, "expected an integer %s %d-%d, got %s", what, lo, hi, kindName(n))
		}
		return 0, false
	}
	return int(v), true
}

// stringList reads a list of strings.
func (w *walker) stringList(n *yaml.Node, path string) ([]string, bool) {
	rn := resolve(n)
	if rn == nil || rn.Kind != yaml.SequenceNode {
		w.errorf(n, path, "expected a list of strings, got %s", kindName(n))
		return nil, false
	}
	out := make([]string, 0, len(rn.Content))
	ok := true
	for i, item := range rn.Content {
		s, good := w.str(item, index(path, i))
		ok = ok && good
		out = append(out, s)
	}
	return out, ok
}

// duration reads a Synapse duration: an integer number of milliseconds or a
// string such as "5m" (see ParseDuration).
func (w *walker) duration(n *yaml.Node, path string) (time.Duration, bool) {
	rn := resolve(n)
	if rn != nil && rn.Kind == yaml.ScalarNode && (rn.Tag == "!!int" || rn.Tag == "!!str") {
		d, err := ParseDuration(rn.Value)
		if err == nil {
			return d, true
		}
	}
	w.errorf(n, path, `expected a duration (milliseconds, or a number with suffix ms, s, m, h, d, w or y such as "5m"), got %s`, kindName(n))
	return 0, false
}

// size reads a Synapse byte size: an integer number of bytes or a string
// such as "50M" (see ParseSize).
func (w *walker) size(n *yaml.Node, path string) (int64, bool) {
	rn := resolve(n)
	if rn != nil && rn.Kind == yaml.ScalarNode && (rn.Tag == "!!int" || rn.Tag == "!!str") {
		v, err := ParseSize(rn.Value)
		if err == nil {
			return v, true
		}
	}
	w.errorf(n, path, `expected a size (bytes, or a number with suffix K, M, G or T such as "50M"), got %s`, kindName(n))
	return 0, false
}

// unknown reports a key nobody recognises, suggesting a close known key.
func (w *walker) unknown(e entry, path string, known []string) {
	w.suggestions++
	if w.suggestions > 100 {
		w.warnf(e.keyNode, path, "unknown key")
		return
	}
	if s := suggest(e.key, known); s != "" {
		w.warnf(e.keyNode, path, "unknown key (did you mean %q?)", s)
		return
	}
	w.warnf(e.keyNode, path, "unknown key")
}

// notSupported reports a key Synapse understands but Axon ignores for now.
func (w *walker) notSupported(e entry, path string) {
	w.warnf(e.keyNode, path, "not supported yet: %s (Axon ignores this setting)", path)
}

// suggest returns the entry of known closest to key when it is plausibly a
// typo (edit distance at most 2), else "".
func suggest(key string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(strings.ToLower(key), k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
