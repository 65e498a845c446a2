package consent

import (
	"errors"
	"testing"
)

// policy uses every construct Synapse's documented templates use. The
// expected outputs below are what Jinja2 renders for it.
const policy = `<!doctype html>
<html>
<body>
{# Axon test policy #}
{% if has_consented %}
  <p>Agreed to {{ version }}.</p>
{% else %}
  <p>Policy {{version}}</p>
  {%- if not public_version %}
  <form method="post" action="consent">
    <input type="hidden" name="v" value="{{ version }}"/>
    <input type="hidden" name="u" value="{{ user }}"/>
    <input type="hidden" name="h" value="{{ userhmac }}"/>
  </form>
  {%- endif %}
{% endif %}
</body>
</html>
`

func TestTemplateRendersLikeJinja(t *testing.T) {
	tmpl, err := parseTemplate(policy)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		vars map[string]any
		want string
	}{
		{"public", map[string]any{"version": "1.0", "public_version": true, "has_consented": false},
			"<!doctype html>\n<html>\n<body>\n\n\n  <p>Policy 1.0</p>\n\n</body>\n</html>"},
		{"for a user, escaped", map[string]any{"version": "1.0", "public_version": false, "has_consented": false, "user": "<alice>", "userhmac": `ab"c`},
			"<!doctype html>\n<html>\n<body>\n\n\n  <p>Policy 1.0</p>\n  <form method=\"post\" action=\"consent\">\n    <input type=\"hidden\" name=\"v\" value=\"1.0\"/>\n    <input type=\"hidden\" name=\"u\" value=\"&lt;alice&gt;\"/>\n    <input type=\"hidden\" name=\"h\" value=\"ab&#34;c\"/>\n  </form>\n\n</body>\n</html>"},
		{"agreed", map[string]any{"version": "1.0", "public_version": false, "has_consented": true, "user": "alice", "userhmac": "abc"},
			"<!doctype html>\n<html>\n<body>\n\n\n  <p>Agreed to 1.0.</p>\n\n</body>\n</html>"},
	} {
		if got := tmpl.execute(c.vars); got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
}

func TestTemplateDetails(t *testing.T) {
	vars := map[string]any{"a": true, "user": "u", "flag": true, "empty": ""}
	for src, want := range map[string]string{
		"  x  {%- if a -%}  y  {%- endif -%}  z  ":                  "  xyz  ",
		"{{user}}{{ user }}{{-user-}}":                              "uuu",
		"{{ missing }}|{% if missing %}m{% else %}none{% endif %}":  "|none",
		"{% if empty %}e{% elif not a %}na{% elif a %}A{% endif %}": "A",
		"{{ flag }}": "True",
		"a { b } {x": "a { b } {x",
		"line\r\n":   "line",
	} {
		tmpl, err := parseTemplate(src)
		if err != nil {
			t.Errorf("%q: %v", src, err)
			continue
		}
		if got := tmpl.execute(vars); got != want {
			t.Errorf("%q: got %q, want %q", src, got, want)
		}
	}
}

func TestTemplateRefusesWhatItDoesNotUnderstand(t *testing.T) {
	for _, src := range []string{
		"{% for x in y %}{% endfor %}",
		"{{ user|upper }}",
		"{{ user.name }}",
		"{% if a and b %}{% endif %}",
		"{% if a %}",
		"{% endif %}",
		"{% if a %}{% else %}{% else %}{% endif %}",
		"{{ user ",
		"{% include 'x.html' %}",
		"{% if not %}{% endif %}",
	} {
		if _, err := parseTemplate(src); !errors.Is(err, errTemplate) {
			t.Errorf("%q: err %v, want a template error", src, err)
		}
	}
}
