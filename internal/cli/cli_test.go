package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/axonhs/axon/internal/config"
	"github.com/axonhs/axon/internal/password"
	"github.com/axonhs/axon/internal/server/servertest"
	"github.com/axonhs/axon/internal/signingkey"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

// run runs the axon command line in-process, as program name prog.
func run(t *testing.T, stdin string, env map[string]string, prog string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	e := Env{
		Stdin:  strings.NewReader(stdin),
		Stdout: &out,
		Stderr: &errOut,
		Getenv: func(k string) string { return env[k] },
	}
	code = Main(context.Background(), e, append([]string{prog}, args...))
	return code, out.String(), errOut.String()
}

func TestRegisterNewMatrixUser(t *testing.T) {
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv := servertest.Start(t, servertest.Config(t, engine))

			t.Run("with flags, as an admin", func(t *testing.T) {
				code, out, errOut := run(t, "", nil, "axon", "register", "-k", servertest.SharedSecret, "-u", "alice", "-p", "secret", "-a", srv.URL)
				if code != 0 || !strings.Contains(out, "Success!") {
					t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
				}
			})

			t.Run("taken name fails, unless --exists-ok", func(t *testing.T) {
				code, _, errOut := run(t, "", nil, "axon", "register", "-k", servertest.SharedSecret, "-u", "alice", "-p", "secret", "--no-admin", srv.URL)
				if code != 1 || !strings.Contains(errOut, "User ID already taken") {
					t.Fatalf("exit %d, stderr %s", code, errOut)
				}
				code, out, _ := run(t, "", nil, "axon", "register", "-k", servertest.SharedSecret, "-u", "alice", "-p", "secret", "--no-admin", "--exists-ok", srv.URL)
				if code != 0 || !strings.Contains(out, "User already exists. Skipping.") {
					t.Fatalf("exit %d, stdout %s", code, out)
				}
			})

			t.Run("wrong secret is refused", func(t *testing.T) {
				code, _, errOut := run(t, "", nil, "axon", "register", "-k", "wrong", "-u", "mallory", "-p", "x", "--no-admin", srv.URL)
				if code != 1 || !strings.Contains(errOut, "403") {
					t.Fatalf("exit %d, stderr %s", code, errOut)
				}
			})

			t.Run("prompts for what is missing, under Synapse's tool name", func(t *testing.T) {
				// URL first and flags after, as argparse allows.
				code, out, errOut := run(t, "bob\npw1\npw1\nyes\n", nil, "/usr/local/bin/register_new_matrix_user", srv.URL, "-k", servertest.SharedSecret)
				if code != 0 || !strings.Contains(out, "New user localpart") || !strings.Contains(out, "Make admin [no]") || !strings.Contains(out, "Success!") {
					t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
				}
			})

			t.Run("mismatched confirmation", func(t *testing.T) {
				code, _, errOut := run(t, "pw1\npw2\n", nil, "axon", "register", "-k", servertest.SharedSecret, "-u", "carol", "--no-admin", srv.URL)
				if code != 1 || !strings.Contains(errOut, "passwords do not match") {
					t.Fatalf("exit %d, stderr %s", code, errOut)
				}
			})

			t.Run("secret and URL from the config file", func(t *testing.T) {
				port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
				path := writeFile(t, "homeserver.yaml", `server_name: axon.test
registration_shared_secret: "`+servertest.SharedSecret+`"
listeners:
  - port: `+port+`
    type: http
    resources:
      - names: [client]
`)
				code, out, errOut := run(t, "", nil, "axon", "register", "-c", path, "-u", "dave", "-p", "pw", "--no-admin")
				if code != 0 || !strings.Contains(out, "Success!") {
					t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
				}
			})
		})
	}
}

func TestRegisterUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"neither -c nor -k", []string{"-u", "a", "-p", "b"}, "exactly one of -c/--config and -k/--shared-secret"},
		{"both admin flags", []string{"-k", "s", "-a", "--no-admin"}, "cannot be used together"},
		{"unknown flag", []string{"-k", "s", "--frobnicate"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := run(t, "", nil, "axon", append([]string{"register"}, tt.args...)...)
			if code != 2 || !strings.Contains(errOut, tt.want) {
				t.Fatalf("exit %d, stderr %s", code, errOut)
			}
		})
	}
}

func TestRegisterWithoutSecretInConfig(t *testing.T) {
	path := writeFile(t, "homeserver.yaml", "server_name: x.test\n")
	code, _, errOut := run(t, "", nil, "axon", "register", "-c", path, "-u", "a", "-p", "b", "--no-admin")
	if code != 1 || !strings.Contains(errOut, "registration_shared_secret") {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
}

func TestHashPassword(t *testing.T) {
	path := writeFile(t, "homeserver.yaml", "server_name: x.test\nbcrypt_rounds: 5\npassword_config:\n  pepper: \"spice\"\n")
	for _, prog := range []string{"hash_password", "axon"} {
		t.Run(prog, func(t *testing.T) {
			args := []string{"-c", path}
			if prog == "axon" {
				args = append([]string{"hash-password"}, args...)
			}
			code, out, errOut := run(t, "  hunter2  \n", nil, prog, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			hash := strings.TrimSpace(out)
			if !strings.HasPrefix(hash, "$2b$05$") {
				t.Fatalf("hash %q does not use bcrypt_rounds 5", hash)
			}
			ok, err := password.Hasher{Pepper: "spice"}.Check(hash, "hunter2")
			if err != nil || !ok {
				t.Fatalf("hash does not verify with the pepper: %v", err)
			}
		})
	}
	t.Run("password flag", func(t *testing.T) {
		code, out, _ := run(t, "", nil, "hash_password", "-p", "pw")
		if code != 0 || !strings.HasPrefix(out, "$2b$12$") {
			t.Fatalf("exit %d, %q", code, out)
		}
	})
	t.Run("blank password", func(t *testing.T) {
		if code, _, _ := run(t, "\n", nil, "hash_password"); code != 1 {
			t.Fatalf("exit %d", code)
		}
	})
}

func TestGenerate(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "conf", "homeserver.yaml")
	dataDir := filepath.Join(dir, "data")
	code, out, errOut := run(t, "", nil, "axon", "generate", "--server-name", "matrix.example.com", "--report-stats", "no",
		"--config-path", cfgPath, "--data-directory", dataDir)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	cfg, diags, err := config.Load(cfgPath)
	if err != nil || diags.HasErrors() {
		t.Fatalf("generated config does not load: %v %v", err, diags)
	}
	if cfg.ServerName != "matrix.example.com" || cfg.RegistrationSharedSecret == "" || cfg.MacaroonSecretKey == "" || cfg.FormSecret == "" {
		t.Fatalf("generated config lacks server name or secrets: %+v", cfg)
	}
	if cfg.Database.SQLitePath != filepath.Join(dataDir, "homeserver.db") {
		t.Fatalf("database at %q, want it in the data directory", cfg.Database.SQLitePath)
	}
	keyPath := filepath.Join(dir, "conf", "matrix.example.com.signing.key")
	if cfg.SigningKeyPath != keyPath {
		t.Fatalf("signing key path %q, want %q", cfg.SigningKeyPath, keyPath)
	}
	keys, err := signingkey.Read(keyPath)
	if err != nil || len(keys) != 1 {
		t.Fatalf("signing key: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "conf", "matrix.example.com.log.config")); err != nil {
		t.Fatalf("log config: %v", err)
	}

	t.Run("never overwrites", func(t *testing.T) {
		before, _ := os.ReadFile(cfgPath)
		keyBefore, _ := os.ReadFile(keyPath)
		code, _, errOut := run(t, "", nil, "axon", "--generate-config", "--server-name", "other.example.com", "--report-stats", "yes", "-c", cfgPath)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		after, _ := os.ReadFile(cfgPath)
		keyAfter, _ := os.ReadFile(keyPath)
		if !bytes.Equal(before, after) || !bytes.Equal(keyBefore, keyAfter) {
			t.Fatal("generate overwrote an existing config or key")
		}
	})

	t.Run("report-stats is required", func(t *testing.T) {
		code, _, errOut := run(t, "", nil, "axon", "generate", "--server-name", "x.test", "-c", filepath.Join(dir, "x.yaml"))
		if code != 2 || !strings.Contains(errOut, "--report-stats") {
			t.Fatalf("exit %d: %s", code, errOut)
		}
	})

	t.Run("Docker-style environment", func(t *testing.T) {
		envDir := filepath.Join(dir, "docker")
		env := map[string]string{
			"SYNAPSE_SERVER_NAME":  "env.example.com",
			"SYNAPSE_REPORT_STATS": "no",
			"SYNAPSE_CONFIG_DIR":   envDir,
			"SYNAPSE_DATA_DIR":     filepath.Join(envDir, "state"),
		}
		if code, out, errOut := run(t, "", env, "axon", "generate"); code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		cfg, _, err := config.Load(filepath.Join(envDir, "homeserver.yaml"))
		if err != nil || cfg.ServerName != "env.example.com" {
			t.Fatalf("config from env: %v %+v", err, cfg)
		}
		if !strings.HasPrefix(cfg.Database.SQLitePath, filepath.Join(envDir, "state")) {
			t.Fatalf("database %q not under SYNAPSE_DATA_DIR", cfg.Database.SQLitePath)
		}
	})
}

func TestCheckConfig(t *testing.T) {
	good := writeFile(t, "good.yaml", "server_name: x.test\nurl_preview_enabled: true\n")
	code, out, _ := run(t, "", nil, "axon", "check-config", "-c", good)
	if code != 0 || !strings.Contains(out, "url_preview_enabled") || !strings.Contains(out, "0 error(s)") {
		t.Fatalf("exit %d: %s", code, out)
	}
	bad := writeFile(t, "bad.yaml", "server_name: x.test\nlisteners:\n  - port: abc\n    type: http\nfrobnicate: 1\n")
	code, out, _ = run(t, "", nil, "axon", "check-config", "-c", bad)
	if code != 1 || !strings.Contains(out, "line 3") || !strings.Contains(out, "frobnicate") {
		t.Fatalf("exit %d: %s", code, out)
	}
}

func TestRouting(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"axon"}, "serve"},
		{[]string{"axon", "-c", "x.yaml"}, "serve"},
		{[]string{"axon", "serve", "-c", "x.yaml"}, "serve"},
		{[]string{"axon", "-c", "x.yaml", "--generate-config", "-H", "a"}, "generate"},
		{[]string{"/usr/bin/register_new_matrix_user", "-u", "a"}, "register"},
		{[]string{"hash_password"}, "hash-password"},
		{[]string{"axon", "check-config"}, "check-config"},
	}
	for _, tt := range tests {
		if got, _ := route(tt.args); got != tt.want {
			t.Errorf("route(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
