package config

import (
	"fmt"
	"strings"
	"testing"
)

func bomb(levels, width int, merge bool) string {
	var b strings.Builder
	b.WriteString("server_name: x\na0: &a0 {port: 1, type: http}\n")
	for i := 1; i <= levels; i++ {
		refs := make([]string, width)
		for j := range refs {
			refs[j] = fmt.Sprintf("*a%d", i-1)
		}
		if merge {
			fmt.Fprintf(&b, "a%d: &a%d {<<: [%s]}\n", i, i, strings.Join(refs, ", "))
		} else {
			fmt.Fprintf(&b, "a%d: &a%d [%s]\n", i, i, strings.Join(refs, ", "))
		}
	}
	fmt.Fprintf(&b, "listeners: [*a%d]\n", levels)
	return b.String()
}

func TestAliasBombRejected(t *testing.T) {
	// Both shapes would expand to 10^9 nodes; they must be refused before
	// anything walks the expansion.
	for _, merge := range []bool{true, false} {
		if _, _, err := Parse([]byte(bomb(9, 10, merge)), "x"); err == nil || !strings.Contains(err.Error(), "aliases") {
			t.Errorf("merge=%v: err = %v", merge, err)
		}
	}
	// Ordinary anchors still work.
	if _, d, err := Parse([]byte(bomb(2, 3, true)), "x"); err != nil || d.HasErrors() {
		t.Errorf("small anchors: %v %v", err, d)
	}
}
