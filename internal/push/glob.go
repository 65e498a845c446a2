package push

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// matcher is a compiled glob (spec appendix "Glob-style matching": * and
// ?), matched case-insensitively against a lowercased value. In word mode,
// used for content.body, it matches any substring that starts and ends at
// a word boundary; the spec's word characters are [A-Za-z0-9_], which is
// exactly what \w and \b mean in Go's regexp (ASCII only).
type matcher struct {
	literal string         // the lowercased pattern, when it has no wildcards
	re      *regexp.Regexp // patterns with wildcards (and the empty word pattern)
	word    bool
}

// compileGlob compiles pattern; it fails only for patterns too large for
// the regexp engine.
func compileGlob(pattern string, word bool) (matcher, error) {
	lower := strings.ToLower(pattern)
	if !strings.ContainsAny(lower, "*?") && (lower != "" || !word) {
		return matcher{literal: lower, word: word}, nil
	}
	var b strings.Builder
	b.WriteString(`(?s)`)
	if word {
		b.WriteString(`(?:\A|\b|\W)`)
	} else {
		b.WriteString(`\A`)
	}
	star := false
	for _, r := range lower {
		switch r {
		case '*':
			if !star {
				b.WriteString(`.*`)
			}
			star = true
			continue
		case '?':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
		star = false
	}
	if word {
		b.WriteString(`(?:\b|\W|\z)`)
	} else {
		b.WriteString(`\z`)
	}
	re, err := regexp.Compile(b.String())
	if err != nil {
		return matcher{}, err
	}
	return matcher{re: re, word: word}, nil
}

// match reports whether the glob matches s, which must be lowercased.
func (m *matcher) match(s string) bool {
	switch {
	case m.re != nil:
		return m.re.MatchString(s)
	case m.word:
		return containsWord(s, m.literal)
	}
	return s == m.literal
}

// isWordByte reports whether c is one of the spec's word characters.
func isWordByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// wordStart reports whether a match may start at s[i]: at the start, after
// a non-word character, or with a non-word character (the regexp
// (?:^|\b|\W) that Synapse anchors word matches with).
func wordStart(s string, i int) bool {
	return i == 0 || !isWordByte(s[i-1]) || i < len(s) && !isWordByte(s[i])
}

// wordEnd reports whether a match may end just before s[j].
func wordEnd(s string, j int) bool {
	return j == len(s) || !isWordByte(s[j]) || j > 0 && !isWordByte(s[j-1])
}

// containsWord reports whether the non-empty word w occurs in s between
// word boundaries.
func containsWord(s, w string) bool {
	for off := 0; off <= len(s)-len(w); {
		i := strings.Index(s[off:], w)
		if i < 0 {
			return false
		}
		i += off
		if wordStart(s, i) && wordEnd(s, i+len(w)) {
			return true
		}
		off = i + 1
	}
	return false
}

// containsWordFold is containsWord for a word in any case: s is
// lowercased, w is lowercased rune by rune as it is compared, so a
// recipient's display name is matched without building its lowercase.
func containsWordFold(s, w string) bool {
	first, size := utf8.DecodeRuneInString(w)
	if size == 0 {
		return false
	}
	first = unicode.ToLower(first)
	firstLen := utf8.RuneLen(first)
	if firstLen < 0 {
		return false
	}
	rest := w[size:]
	for off := 0; off < len(s); {
		i := strings.IndexRune(s[off:], first)
		if i < 0 {
			return false
		}
		i += off
		if j, ok := hasPrefixFold(s, i+firstLen, rest); ok && wordStart(s, i) && wordEnd(s, j) {
			return true
		}
		off = i + firstLen
	}
	return false
}

// hasPrefixFold reports whether s[at:] starts with lowercase(prefix), and
// where that prefix ends in s.
func hasPrefixFold(s string, at int, prefix string) (int, bool) {
	for _, r := range prefix {
		got, size := utf8.DecodeRuneInString(s[at:])
		if size == 0 || got != unicode.ToLower(r) {
			return 0, false
		}
		at += size
	}
	return at, true
}
