package config

import (
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/axonhs/axon/internal/signingkey"
)

func TestGenerate(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "conf", "homeserver.yaml")
	written, err := Generate(GenerateOptions{ServerName: "example.org", ConfigPath: cfgPath, ReportStats: true})
	if err != nil {
		t.Fatal(err)
	}
	confDir := filepath.Join(dir, "conf")
	logPath := filepath.Join(confDir, "example.org.log.config")
	keyPath := filepath.Join(confDir, "example.org.signing.key")
	if want := []string{cfgPath, logPath, keyPath}; !slices.Equal(written, want) {
		t.Fatalf("written = %v, want %v", written, want)
	}
	for path, mode := range map[string]os.FileMode{cfgPath: 0o600, keyPath: 0o600, logPath: 0o644} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s mode = %v, want %v", filepath.Base(path), fi.Mode().Perm(), mode)
		}
	}

	// The generated file loads cleanly and has the expected values.
	c, d, err := Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range d {
		if x.Severity == Error || x.Key != "trusted_key_servers" {
			t.Errorf("unexpected diagnostic: %s", x)
		}
	}
	if c.ServerName != "example.org" || !c.ReportStats || c.PIDFile != filepath.Join(confDir, "homeserver.pid") ||
		c.Database.Engine != "sqlite3" || c.Database.SQLitePath != filepath.Join(confDir, "homeserver.db") ||
		c.MediaStorePath != filepath.Join(confDir, "media_store") || c.LogConfig != logPath || c.SigningKeyPath != keyPath {
		t.Errorf("config = %+v", c)
	}
	if len(c.Listeners) != 1 {
		t.Fatalf("listeners = %+v", c.Listeners)
	}
	l := c.Listeners[0]
	if l.Port != 8008 || l.TLS || l.Type != "http" || !l.XForwarded ||
		!slices.Equal(l.BindAddresses, []string{"::1", "127.0.0.1"}) ||
		len(l.Resources) != 1 || !slices.Equal(l.Resources[0].Names, []string{"client", "federation"}) || l.Resources[0].Compress {
		t.Errorf("listener = %+v", l)
	}
	secret := regexp.MustCompile(`^[A-Za-z0-9]{50}$`)
	for _, s := range []string{c.RegistrationSharedSecret, c.MacaroonSecretKey, c.FormSecret} {
		if !secret.MatchString(s) {
			t.Errorf("secret %q is not 50 alphanumerics", s)
		}
	}
	if c.RegistrationSharedSecret == c.MacaroonSecretKey {
		t.Error("secrets should differ")
	}
	raw, _ := os.ReadFile(cfgPath)
	if !strings.HasSuffix(string(raw), "# vim:ft=yaml\n") || !strings.Contains(string(raw), `- server_name: "matrix.org"`) {
		t.Errorf("homeserver.yaml:\n%s", raw)
	}

	// The log config points at <datadir>/homeserver.log.
	ls, err := LoadLogConfig(logPath)
	if err != nil || ls.Level != slog.LevelInfo || ls.File != filepath.Join(confDir, "homeserver.log") ||
		ls.Buffer == nil || *ls.Buffer != (LogBuffer{Capacity: 10, FlushLevel: slog.LevelWarn, Period: 5 * time.Second}) {
		t.Errorf("log settings = %+v, %v", ls, err)
	}
	keys, err := signingkey.Read(keyPath)
	if err != nil || len(keys) != 1 {
		t.Errorf("signing key: %v %v", keys, err)
	}

	// A second run writes nothing and changes nothing.
	before, _ := os.ReadFile(keyPath)
	written, err = Generate(GenerateOptions{ServerName: "example.org", ConfigPath: cfgPath})
	if err != nil || len(written) != 0 {
		t.Errorf("second run wrote %v, %v", written, err)
	}
	after, _ := os.ReadFile(keyPath)
	raw2, _ := os.ReadFile(cfgPath)
	if string(before) != string(after) || string(raw) != string(raw2) {
		t.Error("second run modified existing files")
	}

	// With the config kept, missing files are recreated where it says.
	os.Remove(keyPath)
	os.Remove(logPath)
	written, err = Generate(GenerateOptions{ServerName: "other.org", ConfigPath: cfgPath})
	if err != nil || !slices.Equal(written, []string{logPath, keyPath}) {
		t.Errorf("regenerate missing: %v, %v", written, err)
	}
}

func TestGenerateDirsAndOpenPorts(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "homeserver.yaml")
	data, keys := filepath.Join(dir, "data"), filepath.Join(dir, "keys")
	_, err := Generate(GenerateOptions{ServerName: "example.org", ConfigPath: cfgPath, DataDir: data, KeysDir: keys, OpenPrivatePorts: true})
	if err != nil {
		t.Fatal(err)
	}
	c, d, err := Load(cfgPath)
	if err != nil || d.HasErrors() {
		t.Fatal(err, d)
	}
	if c.Database.SQLitePath != filepath.Join(data, "homeserver.db") || c.SigningKeyPath != filepath.Join(keys, "example.org.signing.key") ||
		c.LogConfig != filepath.Join(dir, "example.org.log.config") || c.ReportStats {
		t.Errorf("config = %+v", c)
	}
	if !slices.Equal(c.Listeners[0].BindAddresses, []string{"::", "0.0.0.0"}) {
		t.Errorf("open ports should bind everywhere: %v", c.Listeners[0].BindAddresses)
	}
	if _, err := os.Stat(c.SigningKeyPath); err != nil {
		t.Error(err)
	}
}

func TestGenerateKeepsExisting(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "homeserver.yaml")
	keyPath := filepath.Join(dir, "example.org.signing.key")
	existingCfg := "server_name: example.org\nreport_stats: false\n"
	existingKey := "ed25519 a_keep AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n"
	os.WriteFile(cfgPath, []byte(existingCfg), 0o644)
	os.WriteFile(keyPath, []byte(existingKey), 0o600)
	written, err := Generate(GenerateOptions{ServerName: "example.org", ConfigPath: cfgPath})
	if err != nil {
		t.Fatal(err)
	}
	// No log_config in the existing file, and the key exists: nothing to do.
	if len(written) != 0 {
		t.Errorf("written = %v", written)
	}
	if b, _ := os.ReadFile(cfgPath); string(b) != existingCfg {
		t.Error("config overwritten")
	}
	if b, _ := os.ReadFile(keyPath); string(b) != existingKey {
		t.Error("signing key overwritten")
	}
}

func TestGenerateNeedsNames(t *testing.T) {
	if _, err := Generate(GenerateOptions{ConfigPath: "x.yaml"}); err == nil {
		t.Error("missing server name accepted")
	}
	if _, err := Generate(GenerateOptions{ServerName: "example.org"}); err == nil {
		t.Error("missing config path accepted")
	}
}
