package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/axonhs/axon/internal/password"
)

func parse(t *testing.T, yamlText string) (*Config, Diagnostics) {
	t.Helper()
	c, d, err := Parse([]byte(yamlText), "homeserver.yaml")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c, d
}

// find returns the diagnostics for key.
func find(d Diagnostics, key string) []Diagnostic {
	var out []Diagnostic
	for _, x := range d {
		if x.Key == key {
			out = append(out, x)
		}
	}
	return out
}

func mustOne(t *testing.T, d Diagnostics, key string, sev Severity, line int, contains string) Diagnostic {
	t.Helper()
	got := find(d, key)
	if len(got) != 1 {
		t.Fatalf("want one diagnostic for %s, got %v (all: %v)", key, got, d)
	}
	x := got[0]
	if x.Severity != sev || x.Line != line || !strings.Contains(x.Message, contains) {
		t.Errorf("diagnostic = %q; want %v on line %d mentioning %q", x.String(), sev, line, contains)
	}
	return x
}

const minimal = "server_name: example.org\nreport_stats: false\n"

// Every homeserver.yaml in the tutorials our users follow must load without
// errors. Fragments (snippets meant to be pasted into a full file) get a
// server_name added first.
func TestSeedConfigsLoad(t *testing.T) {
	files, err := filepath.Glob("testdata/seed*.yaml")
	if err != nil || len(files) < 10 {
		t.Fatalf("found %d seed files (%v)", len(files), err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(f, "-fragment-") {
				data = append([]byte(minimal), data...)
			}
			c, d, err := Parse(data, f)
			if err != nil {
				t.Fatal(err)
			}
			if d.HasErrors() {
				t.Errorf("errors: %v", d)
			}
			if c.ServerName == "" {
				t.Error("server_name not read")
			}
		})
	}
}

func TestSeedDetails(t *testing.T) {
	c, d, err := Load("testdata/seed1-generated.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if d.HasErrors() {
		t.Fatal(d)
	}
	if c.ServerName != "matrix.example.com" || c.SigningKeyPath != "/data/matrix.example.com.signing.key" ||
		c.Database.SQLitePath != "/data/homeserver.db" || !c.ReportStats || len(c.Listeners) != 1 ||
		c.FormSecret != "34;:CLfGEX-1qV9=XsJKe:V-OFKn+@JhxyIVGcaTkCoXIKN~cK" {
		t.Errorf("unexpected config %+v", c)
	}
	mustOne(t, d, "trusted_key_servers", Warning, 33, "not supported yet: trusted_key_servers")

	// The tab-indented redis block in seed 2 is accepted with a warning.
	_, d, err = Load("testdata/seed2-homeserver.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if x := find(d, "(indentation)"); len(x) != 1 || x[0].Line != 29 {
		t.Errorf("tab warning = %v", x)
	}
}

func TestUnknownKey(t *testing.T) {
	_, d := parse(t, minimal+"frobnicate: 1\nserver_nmae: x\n")
	mustOne(t, d, "frobnicate", Warning, 3, "unknown key")
	x := mustOne(t, d, "server_nmae", Warning, 4, `did you mean "server_name"?`)
	if got := x.String(); got != `warning: line 4: server_nmae: unknown key (did you mean "server_name"?)` {
		t.Errorf("String() = %q", got)
	}
	_, d = parse(t, minimal+"listeners:\n  - port: 8008\n    type: http\n    colour: blue\n")
	mustOne(t, d, "listeners[0].colour", Warning, 6, "unknown key")
	_, d = parse(t, minimal+"database:\n  name: sqlite3\n  args:\n    database: x.db\n    flavour: 1\n")
	mustOne(t, d, "database.args.flavour", Warning, 7, "unknown key")
}

func TestNotSupported(t *testing.T) {
	_, d := parse(t, minimal+"url_preview_enabled: true\n")
	x := mustOne(t, d, "url_preview_enabled", Warning, 3, "not supported yet: url_preview_enabled")
	if !strings.Contains(x.String(), "not supported yet: url_preview_enabled") {
		t.Errorf("String() = %q", x.String())
	}
	if d.HasErrors() {
		t.Error(d)
	}
}

func TestBadTypes(t *testing.T) {
	for _, tc := range []struct {
		yaml, key string
		line      int
		want      string
	}{
		{"listeners:\n  - port: abc\n    type: http\n", "listeners[0].port", 4, `expected an integer port 1-65535, got "abc"`},
		{"listeners:\n  - port: 70000\n    type: http\n", "listeners[0].port", 4, "expected an integer port 1-65535, got 70000"},
		{"listeners:\n  - port: 8008\n    type: ftp\n", "listeners[0].type", 5, `expected http or metrics, got "ftp"`},
		{"listeners:\n  - port: 8008\n", "listeners[0].type", 4, "required setting is missing"},
		{"listeners:\n  - port: 8008\n    type: http\n    tls: maybe\n", "listeners[0].tls", 6, `expected true or false, got "maybe"`},
		{"listeners:\n  - port: 8008\n    type: http\n    resources:\n      - names: [client, bogus]\n", "listeners[0].resources[0].names[1]", 7, `unknown resource "bogus"`},
		{"enable_registration: [1]\n", "enable_registration", 3, "expected true or false, got a list"},
		{"bcrypt_rounds: 99\n", "bcrypt_rounds", 3, "expected an integer cost 4-31, got 99"},
		{"max_upload_size: lots\n", "max_upload_size", 3, `expected a size`},
		{"database:\n  name: mysql\n", "database.name", 4, `expected sqlite3 or psycopg2, got "mysql"`},
		{"database:\n  name: psycopg2\n  args:\n    port: x\n", "database.args.port", 6, "expected an integer port"},
		{"database:\n  name: psycopg2\n  args:\n    cp_min: 9\n    cp_max: 2\n", "database.args.cp_min", 6, "larger than cp_max"},
		{"default_room_version: 99\n", "default_room_version", 3, `unknown room version "99"`},
		{"password_config:\n  enabled: sometimes\n", "password_config.enabled", 4, "expected true, false or only_for_reauth"},
		{"password_config:\n  policy:\n    minimum_length: -1\n", "password_config.policy.minimum_length", 5, "expected an integer length >= 0"},
		{"listeners: 8008\n", "listeners", 3, "expected a list of listeners"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			_, d := parse(t, minimal+tc.yaml)
			mustOne(t, d, tc.key, Error, tc.line, tc.want)
		})
	}
}

func TestBadTypeString(t *testing.T) {
	_, d := parse(t, minimal+"listeners:\n  - port: abc\n    type: http\n")
	want := `error: line 4: listeners[0].port: expected an integer port 1-65535, got "abc"`
	if len(d) == 0 || d[0].String() != want {
		t.Errorf("got %v, want %s", d, want)
	}
}

func TestServerNameRequired(t *testing.T) {
	_, d := parse(t, "report_stats: true\n")
	if x := find(d, "server_name"); len(x) != 1 || x[0].Severity != Error {
		t.Errorf("got %v", d)
	}
	_, d = parse(t, "")
	if !d.HasErrors() {
		t.Error("empty file should need server_name")
	}
	_, d = parse(t, "- just\n- a list\n")
	if !d.HasErrors() {
		t.Error("a list at top level should be an error")
	}
}

func TestNotYAML(t *testing.T) {
	if _, _, err := Parse([]byte("server_name: [unclosed\n"), "x.yaml"); err == nil {
		t.Error("want an error for invalid YAML")
	}
	if _, _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("want an error for a missing file")
	}
}

func TestDefaults(t *testing.T) {
	c, d := parse(t, minimal)
	if d.HasErrors() {
		t.Fatal(d)
	}
	wd, _ := os.Getwd()
	if c.Database.Engine != "sqlite3" || c.Database.SQLitePath != filepath.Join(wd, "homeserver.db") {
		t.Errorf("database = %+v", c.Database)
	}
	if c.BcryptRounds != 12 || c.MaxUploadSize != 50<<20 || !c.Password.Enabled || !c.Password.LocalDBEnabled {
		t.Errorf("defaults wrong: %+v", c)
	}
	if c.PublicBaseURL != "https://example.org/" || c.DefaultRoomVers != "11" {
		t.Errorf("public_baseurl %q, room version %q", c.PublicBaseURL, c.DefaultRoomVers)
	}
	if c.SigningKeyPath != filepath.Join(wd, "example.org.signing.key") {
		t.Errorf("signing key default %q", c.SigningKeyPath)
	}
}

func TestListenerDefaults(t *testing.T) {
	c, d := parse(t, minimal+`listeners:
  - port: 8008
    type: http
    resources:
      - names: [client]
  - port: 9000
    type: metrics
    bind_addresses: ['127.0.0.1']
`)
	if d.HasErrors() {
		t.Fatal(d)
	}
	if len(c.Listeners) != 2 {
		t.Fatalf("listeners = %+v", c.Listeners)
	}
	l0, l1 := c.Listeners[0], c.Listeners[1]
	if !slices.Equal(l0.BindAddresses, []string{"::", "0.0.0.0"}) || l0.TLS || l0.XForwarded || l0.Line != 4 {
		t.Errorf("listener 0 = %+v", l0)
	}
	if len(l0.Resources) != 1 || !slices.Equal(l0.Resources[0].Names, []string{"client"}) || l0.Resources[0].Compress {
		t.Errorf("resources = %+v", l0.Resources)
	}
	if l1.Type != "metrics" || !slices.Equal(l1.BindAddresses, []string{"127.0.0.1"}) {
		t.Errorf("listener 1 = %+v", l1)
	}
}

func TestPostgresArgs(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("s3cret\n"), 0o600)
	c, d := parse(t, minimal+`database:
  name: psycopg2
  allow_unsafe_locale: true
  txn_limit: 10000
  args:
    user: synapse_user
    password_file: `+pw+`
    database: synapse
    host: /var/run/postgresql
    port: "6543"
    sslmode: verify-full
    cp_min: 5
    cp_max: 10
    keepalives_idle: 10
    cp_reconnect: true
`)
	if d.HasErrors() {
		t.Fatal(d)
	}
	want := Database{Engine: "psycopg2", User: "synapse_user", Password: "s3cret", DBName: "synapse",
		Host: "/var/run/postgresql", Port: 6543, SSLMode: "verify-full", CPMin: 5, CPMax: 10, AllowUnsafeLocale: true}
	if c.Database != want {
		t.Errorf("database =\n %+v\nwant\n %+v", c.Database, want)
	}
	mustOne(t, d, "database.txn_limit", Warning, 6, "not supported yet")
	mustOne(t, d, "database.args.keepalives_idle", Warning, 16, "not supported yet")
	mustOne(t, d, "database.args.cp_reconnect", Warning, 17, "not supported yet")

	c, d = parse(t, minimal+"database:\n  name: psycopg2\n  args:\n    dbname: a\n    password: p\n")
	if d.HasErrors() || c.Database.DBName != "a" || c.Database.Password != "p" || c.Database.Port != 5432 || c.Database.CPMin != 3 || c.Database.CPMax != 5 {
		t.Errorf("got %+v %v", c.Database, d)
	}
	_, d = parse(t, minimal+"database:\n  name: psycopg2\n  args:\n    password: p\n    password_file: "+pw+"\n")
	mustOne(t, d, "database.args.password_file", Error, 7, "cannot be used together with password")
}

func TestSecretPaths(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	reg := write("reg", "registration-secret\n")
	mac := write("mac", "macaroon-secret\r\n")
	form := write("form", "form-secret")
	c, d := parse(t, minimal+"registration_shared_secret_path: "+reg+"\nmacaroon_secret_key_path: "+mac+"\nform_secret_path: "+form+"\n")
	if d.HasErrors() {
		t.Fatal(d)
	}
	if c.RegistrationSharedSecret != "registration-secret" || c.MacaroonSecretKey != "macaroon-secret" || c.FormSecret != "form-secret" {
		t.Errorf("secrets = %q %q %q", c.RegistrationSharedSecret, c.MacaroonSecretKey, c.FormSecret)
	}

	_, d = parse(t, minimal+"form_secret: inline\nform_secret_path: "+form+"\n")
	mustOne(t, d, "form_secret_path", Error, 4, "cannot be used together with form_secret (line 3)")

	_, d = parse(t, minimal+"macaroon_secret_key_path: "+filepath.Join(dir, "nope")+"\n")
	mustOne(t, d, "macaroon_secret_key_path", Error, 3, "cannot read secret file")

	c, d = parse(t, minimal+"registration_shared_secret: abc\n")
	if d.HasErrors() || c.RegistrationSharedSecret != "abc" {
		t.Errorf("inline secret: %q %v", c.RegistrationSharedSecret, d)
	}
}

func TestPasswordConfig(t *testing.T) {
	c, d := parse(t, minimal+`password_config:
  enabled: only_for_reauth
  localdb_enabled: no
  pepper: pep
  policy:
    enabled: true
    minimum_length: 8
    require_digit: true
    require_symbol: true
    require_lowercase: true
    require_uppercase: yes
`)
	if d.HasErrors() {
		t.Fatal(d)
	}
	want := PasswordConfig{Enabled: false, OnlyForReauth: true, LocalDBEnabled: false, Pepper: "pep",
		Policy: password.Policy{Enabled: true, MinimumLength: 8, RequireDigit: true, RequireSymbol: true, RequireLowercase: true, RequireUppercase: true}}
	if c.Password != want {
		t.Errorf("password_config = %+v", c.Password)
	}
}

func TestYAMLFeatures(t *testing.T) {
	c, d := parse(t, `server_name: example.org
report_stats: false
base: &base
  port: 8008
  type: http
listeners:
  - <<: *base
    x_forwarded: true
  - <<: *base
    port: 8009
bcrypt_rounds: 10
bcrypt_rounds: 11
`)
	if len(c.Listeners) != 2 || c.Listeners[0].Port != 8008 || !c.Listeners[0].XForwarded || c.Listeners[1].Port != 8009 {
		t.Errorf("listeners = %+v", c.Listeners)
	}
	mustOne(t, d, "bcrypt_rounds", Warning, 12, "duplicate key")
	if c.BcryptRounds != 11 {
		t.Errorf("last duplicate should win, got %d", c.BcryptRounds)
	}
}

func TestMaxUploadSize(t *testing.T) {
	c, d := parse(t, minimal+"max_upload_size: 100M\n")
	if d.HasErrors() || c.MaxUploadSize != 100<<20 {
		t.Errorf("got %d %v", c.MaxUploadSize, d)
	}
	c, _ = parse(t, minimal+"max_upload_size: 1000\n")
	if c.MaxUploadSize != 1000 {
		t.Errorf("got %d", c.MaxUploadSize)
	}
}

func TestRegistrationWarning(t *testing.T) {
	_, d := parse(t, minimal+"enable_registration: true\n")
	if len(find(d, "enable_registration")) != 1 || d.HasErrors() {
		t.Errorf("want one warning, got %v", d)
	}
	_, d = parse(t, minimal+"enable_registration: true\nregistration_requires_token: true\n")
	if len(find(d, "enable_registration")) != 0 {
		t.Errorf("token registration should not warn: %v", d)
	}
}

func scalarNode(t *testing.T, text string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Content[0]
}

func TestEnableMetrics(t *testing.T) {
	cfg, diags, err := Parse([]byte("server_name: x.test\nreport_stats: false\nenable_metrics: true\n"), "hs.yaml")
	if err != nil || len(diags) != 0 || !cfg.EnableMetrics {
		t.Fatalf("cfg.EnableMetrics=%v diags=%v err=%v", cfg != nil && cfg.EnableMetrics, diags, err)
	}
}

func TestRegistrationVerifiers(t *testing.T) {
	cfg, _, err := Parse([]byte("server_name: x.test\nreport_stats: false\nenable_registration: true\nregistration_requires_token: true\n"), "hs.yaml")
	if err != nil || !slices.Equal(cfg.RegistrationVerifiers, []string{"registration_requires_token"}) {
		t.Fatalf("RegistrationVerifiers = %v, err %v", cfg.RegistrationVerifiers, err)
	}
}

func TestLegacySynapseKeysAreNotUnknown(t *testing.T) {
	_, diags, err := Parse([]byte("server_name: x.test\nreport_stats: false\nfederation_ip_range_blacklist: []\n"), "hs.yaml")
	if err != nil || len(diags) != 1 || !strings.Contains(diags[0].Message, "not supported yet") {
		t.Fatalf("diags %v err %v", diags, err)
	}
}

func TestRegistrationSecretPathCreatedLikeSynapse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reg.secret")
	cfg, diags, err := Parse([]byte("server_name: x.test\nreport_stats: false\nregistration_shared_secret_path: "+path+"\n"), "hs.yaml")
	if err != nil || diags.HasErrors() {
		t.Fatalf("a missing secret file must not be an error: %v %v", diags, err)
	}
	if err := EnsureRegistrationSecret(cfg); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil || strings.TrimSpace(string(data)) != cfg.RegistrationSharedSecret || len(cfg.RegistrationSharedSecret) < 32 {
		t.Fatalf("secret file %q, cfg secret %q, err %v", data, cfg.RegistrationSharedSecret, err)
	}
	// The next start reads the same secret.
	again, _, _ := Parse([]byte("server_name: x.test\nreport_stats: false\nregistration_shared_secret_path: "+path+"\n"), "hs.yaml")
	if again.RegistrationSharedSecret != cfg.RegistrationSharedSecret {
		t.Fatal("secret changed between starts")
	}
}
