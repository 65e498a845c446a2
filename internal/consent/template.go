package consent

import (
	"errors"
	"fmt"
	"html"
	"strings"
	"unicode"
)

// Synapse renders policy templates with Jinja2. Axon understands the part
// of Jinja that Synapse's documented templates use, and refuses anything
// else rather than show it to users:
//
//	{{ name }}                         a variable, HTML-escaped (Synapse turns autoescape on)
//	{% if [not] name %} {% elif [not] name %} {% else %} {% endif %}
//	{# comment #}
//	{%- ... -%} and {{- ... -}}        strip whitespace before/after the tag
//
// An unknown variable renders as nothing and is false, as in Jinja.

// errTemplate wraps every parse error.
var errTemplate = errors.New("policy template")

type node interface {
	render(b *strings.Builder, vars map[string]any)
}

type textNode string

func (t textNode) render(b *strings.Builder, _ map[string]any) { b.WriteString(string(t)) }

type varNode string

func (v varNode) render(b *strings.Builder, vars map[string]any) {
	switch x := vars[string(v)].(type) {
	case string:
		b.WriteString(html.EscapeString(x))
	case bool:
		// Jinja prints Python's True and False.
		if x {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	}
}

// condition is one "if" or "elif" test and the nodes it guards.
type condition struct {
	not  bool
	name string
	body []node
}

type ifNode struct {
	conds []condition
	els   []node
}

func (n *ifNode) render(b *strings.Builder, vars map[string]any) {
	for _, c := range n.conds {
		if truthy(vars[c.name]) != c.not {
			renderAll(b, c.body, vars)
			return
		}
	}
	renderAll(b, n.els, vars)
}

func truthy(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return x != ""
	}
	return false
}

func renderAll(b *strings.Builder, nodes []node, vars map[string]any) {
	for _, n := range nodes {
		n.render(b, vars)
	}
}

// template is a parsed policy or success page.
type template struct{ nodes []node }

func (t *template) execute(vars map[string]any) string {
	var b strings.Builder
	renderAll(&b, t.nodes, vars)
	return b.String()
}

// tag is one {{ }}, {% %} or {# #} with its inner text trimmed.
type tag struct {
	kind  byte // '{', '%' or '#'
	inner string
	line  int
}

// parseTemplate parses src. Like Jinja, it drops one newline at the end.
func parseTemplate(src string) (*template, error) {
	if s, ok := strings.CutSuffix(src, "\n"); ok {
		src = strings.TrimSuffix(s, "\r")
	}
	p := &parser{}
	if err := p.scan(src); err != nil {
		return nil, err
	}
	nodes, end, err := p.block()
	if err != nil {
		return nil, err
	}
	if end != nil {
		return nil, fmt.Errorf("%w: line %d: {%% %s %%} without {%% if %%}", errTemplate, end.line, end.inner)
	}
	return &template{nodes: nodes}, nil
}

// parser turns the source into a flat list of text and tags, then nests
// the if blocks.
type parser struct {
	items []any // textNode or tag
	pos   int
}

func (p *parser) scan(src string) error {
	line := 1
	trimNext := false
	for src != "" {
		i := strings.Index(src, "{")
		for i >= 0 && (i+1 >= len(src) || !strings.ContainsRune("{%#", rune(src[i+1]))) {
			j := strings.Index(src[i+1:], "{")
			if j < 0 {
				i = -1
			} else {
				i += 1 + j
			}
		}
		if i < 0 {
			p.text(src, trimNext, false)
			return nil
		}
		open := src[i+1]
		closer := map[byte]string{'{': "}}", '%': "%}", '#': "#}"}[open]
		end := strings.Index(src[i+2:], closer)
		if end < 0 {
			return fmt.Errorf("%w: line %d: unclosed {%c", errTemplate, line+strings.Count(src[:i], "\n"), open)
		}
		inner := src[i+2 : i+2+end]
		trimPrev := strings.HasPrefix(inner, "-")
		p.text(src[:i], trimNext, trimPrev)
		line += strings.Count(src[:i], "\n")
		trimNext = strings.HasSuffix(inner, "-") && len(inner) > 1
		inner = strings.TrimSuffix(strings.TrimPrefix(inner, "-"), "-")
		if open != '#' {
			p.items = append(p.items, tag{kind: open, inner: strings.TrimSpace(inner), line: line})
		}
		line += strings.Count(src[i:i+2+end+2], "\n")
		src = src[i+2+end+2:]
	}
	return nil
}

func (p *parser) text(s string, trimLeft, trimRight bool) {
	if trimLeft {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
	}
	if trimRight {
		s = strings.TrimRightFunc(s, unicode.IsSpace)
	}
	if s != "" {
		p.items = append(p.items, textNode(s))
	}
}

// block parses nodes up to a closing tag (elif, else, endif), which it
// returns without consuming the rest of the if.
func (p *parser) block() ([]node, *tag, error) {
	var nodes []node
	for p.pos < len(p.items) {
		item := p.items[p.pos]
		p.pos++
		t, ok := item.(tag)
		if !ok {
			nodes = append(nodes, item.(textNode))
			continue
		}
		if t.kind == '{' {
			if !isName(t.inner) {
				return nil, nil, fmt.Errorf("%w: line %d: {{ %s }} is not supported; only plain variable names are", errTemplate, t.line, t.inner)
			}
			nodes = append(nodes, varNode(t.inner))
			continue
		}
		word, _, _ := strings.Cut(t.inner, " ")
		switch word {
		case "if":
			n, err := p.ifBlock(t)
			if err != nil {
				return nil, nil, err
			}
			nodes = append(nodes, n)
		case "elif", "else", "endif":
			return nodes, &t, nil
		default:
			return nil, nil, fmt.Errorf("%w: line %d: {%% %s %%} is not supported; only if, elif, else and endif are", errTemplate, t.line, t.inner)
		}
	}
	return nodes, nil, nil
}

func (p *parser) ifBlock(open tag) (*ifNode, error) {
	n := &ifNode{}
	test := open
	for {
		c, err := parseTest(test)
		if err != nil {
			return nil, err
		}
		body, end, err := p.block()
		if err != nil {
			return nil, err
		}
		c.body = body
		n.conds = append(n.conds, c)
		if end == nil {
			return nil, fmt.Errorf("%w: line %d: {%% %s %%} without {%% endif %%}", errTemplate, open.line, open.inner)
		}
		switch {
		case strings.HasPrefix(end.inner, "elif "):
			test = *end
			continue
		case end.inner == "else":
			els, end2, err := p.block()
			if err != nil {
				return nil, err
			}
			if end2 == nil || end2.inner != "endif" {
				return nil, fmt.Errorf("%w: line %d: {%% else %%} must be followed by {%% endif %%}", errTemplate, end.line)
			}
			n.els = els
			return n, nil
		case end.inner == "endif":
			return n, nil
		default:
			return nil, fmt.Errorf("%w: line %d: malformed {%% %s %%}", errTemplate, end.line, end.inner)
		}
	}
}

// parseTest reads "if name", "if not name", "elif ...".
func parseTest(t tag) (condition, error) {
	fields := strings.Fields(t.inner)[1:]
	var c condition
	if len(fields) == 2 && fields[0] == "not" {
		c.not, fields = true, fields[1:]
	}
	if len(fields) != 1 || !isName(fields[0]) {
		return c, fmt.Errorf("%w: line %d: {%% %s %%} is not supported; only if name and if not name are", errTemplate, t.line, t.inner)
	}
	c.name = fields[0]
	return c, nil
}

func isName(s string) bool {
	if s == "" || s == "not" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
