package config

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/axonhs/axon/internal/signingkey"
)

// GenerateOptions mirrors Synapse's --generate-config flags.
type GenerateOptions struct {
	ServerName string // --server-name (required)
	ConfigPath string // --config-path, e.g. "homeserver.yaml" (required)
	DataDir    string // --data-directory; default: the config file's directory
	KeysDir    string // --keys-directory; default: the config file's directory

	ReportStats bool // --report-stats=yes|no

	// OpenPrivatePorts (--open-private-ports) leaves out bind_addresses so
	// the listener binds all interfaces instead of loopback only.
	OpenPrivatePorts bool
}

// Generate writes a new homeserver.yaml, log config and signing key, laid
// out the way Synapse's --generate-config does, so either server can run
// from the result. Existing files are never overwritten: when the config
// file already exists it is left as is and only the log config and signing
// key it names are created if missing. It returns the files it created.
func Generate(opts GenerateOptions) (written []string, err error) {
	if opts.ServerName == "" {
		return nil, errors.New("generate config: a server name is required")
	}
	if opts.ConfigPath == "" {
		return nil, errors.New("generate config: a config path is required")
	}
	configPath, err := filepath.Abs(opts.ConfigPath)
	if err != nil {
		return nil, fmt.Errorf("generate config: %w", err)
	}
	configDir := filepath.Dir(configPath)
	dataDir, keysDir := configDir, configDir
	if opts.DataDir != "" {
		if dataDir, err = filepath.Abs(opts.DataDir); err != nil {
			return nil, fmt.Errorf("generate config: %w", err)
		}
	}
	if opts.KeysDir != "" {
		if keysDir, err = filepath.Abs(opts.KeysDir); err != nil {
			return nil, fmt.Errorf("generate config: %w", err)
		}
	}

	serverName := opts.ServerName
	logConfigPath := filepath.Join(configDir, serverName+".log.config")
	signingKeyPath := filepath.Join(keysDir, serverName+".signing.key")

	if existing, err := os.ReadFile(configPath); err == nil {
		// Keep the user's file; fill in only what it points at.
		c, _, err := Parse(existing, configPath)
		if err != nil {
			return nil, fmt.Errorf("generate config: existing %w", err)
		}
		logConfigPath = c.LogConfig
		if c.SigningKeyPath != "" {
			signingKeyPath = c.SigningKeyPath
		}
	} else if errors.Is(err, fs.ErrNotExist) {
		text, err := homeserverYAML(opts, dataDir, logConfigPath, signingKeyPath)
		if err != nil {
			return nil, err
		}
		// The file holds secrets, hence 0600.
		created, err := createFile(configPath, []byte(text), 0o600)
		if err != nil {
			return nil, err
		}
		if created {
			written = append(written, configPath)
		}
	} else {
		return nil, fmt.Errorf("generate config: %w", err)
	}

	if logConfigPath != "" {
		created, err := createFile(logConfigPath, []byte(logConfigYAML(filepath.Join(dataDir, "homeserver.log"))), 0o644)
		if err != nil {
			return written, err
		}
		if created {
			written = append(written, logConfigPath)
		}
	}

	if _, err := os.Stat(signingKeyPath); errors.Is(err, fs.ErrNotExist) {
		key, err := signingkey.Generate()
		if err != nil {
			return written, fmt.Errorf("generate config: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(signingKeyPath), 0o750); err != nil {
			return written, fmt.Errorf("generate config: %w", err)
		}
		switch err := signingkey.WriteNew(signingKeyPath, key); {
		case err == nil:
			written = append(written, signingKeyPath)
		case !errors.Is(err, fs.ErrExist):
			return written, fmt.Errorf("generate config: %w", err)
		}
	} else if err != nil {
		return written, fmt.Errorf("generate config: %w", err)
	}
	return written, nil
}

// createFile writes a new file, creating its directory; it reports false
// without error if the file already exists.
func createFile(path string, data []byte, perm os.FileMode) (bool, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return false, fmt.Errorf("generate config: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("generate config: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return false, fmt.Errorf("generate config: writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return false, fmt.Errorf("generate config: writing %s: %w", path, err)
	}
	return true, nil
}

// secretLength matches the length of the secrets Synapse generates.
const secretLength = 50

const secretAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// randomSecret returns a random alphanumeric string. Leaving out the
// punctuation Synapse uses means the value never needs YAML escaping and
// survives copy-and-paste into shells and environment files.
func randomSecret() (string, error) {
	out := make([]byte, 0, secretLength)
	buf := make([]byte, 64)
	limit := byte(256 - 256%len(secretAlphabet)) // avoid modulo bias
	for len(out) < secretLength {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("generate config: reading random bytes: %w", err)
		}
		for _, b := range buf {
			if b < limit && len(out) < secretLength {
				out = append(out, secretAlphabet[int(b)%len(secretAlphabet)])
			}
		}
	}
	return string(out), nil
}

// q quotes a string for YAML. Go's double-quoted escapes are a subset of
// YAML's, so strconv.Quote output is valid YAML.
func q(s string) string { return strconv.Quote(s) }

func homeserverYAML(opts GenerateOptions, dataDir, logConfigPath, signingKeyPath string) (string, error) {
	var secrets [3]string
	for i := range secrets {
		s, err := randomSecret()
		if err != nil {
			return "", err
		}
		secrets[i] = s
	}
	bind := "    bind_addresses: ['::1', '127.0.0.1']\n"
	if opts.OpenPrivatePorts {
		bind = ""
	}
	var b strings.Builder
	b.WriteString(`# Homeserver configuration, generated by Axon.
#
# Axon and Synapse read the same keys, so this file works with either.
# Indentation matters in YAML: items of one list or mapping must line up.
# Every setting is described in Synapse's configuration manual:
# https://element-hq.github.io/synapse/latest/usage/configuration/config_documentation.html
`)
	fmt.Fprintf(&b, "server_name: %s\n", q(opts.ServerName))
	fmt.Fprintf(&b, "pid_file: %s\n", q(filepath.Join(dataDir, "homeserver.pid")))
	b.WriteString("listeners:\n  - port: 8008\n    tls: false\n    type: http\n    x_forwarded: true\n")
	b.WriteString(bind)
	b.WriteString("    resources:\n      - names: [client, federation]\n        compress: false\n")
	fmt.Fprintf(&b, "database:\n  name: sqlite3\n  args:\n    database: %s\n", q(filepath.Join(dataDir, "homeserver.db")))
	fmt.Fprintf(&b, "log_config: %s\n", q(logConfigPath))
	fmt.Fprintf(&b, "media_store_path: %s\n", q(filepath.Join(dataDir, "media_store")))
	fmt.Fprintf(&b, "registration_shared_secret: %s\n", q(secrets[0]))
	fmt.Fprintf(&b, "report_stats: %t\n", opts.ReportStats)
	fmt.Fprintf(&b, "macaroon_secret_key: %s\n", q(secrets[1]))
	fmt.Fprintf(&b, "form_secret: %s\n", q(secrets[2]))
	fmt.Fprintf(&b, "signing_key_path: %s\n", q(signingKeyPath))
	b.WriteString("trusted_key_servers:\n  - server_name: \"matrix.org\"\n")
	b.WriteString("\n\n# vim:ft=yaml\n")
	return b.String(), nil
}

// logConfigYAML is a Python logging configuration with the same structure
// as the one Synapse generates, so Synapse can use it too.
func logConfigYAML(logFile string) string {
	return `# Logging configuration, in the format of Python's logging.config.dictConfig
# (which is what Synapse reads). Axon uses the root level, the buffer in
# front of the file, and the file; to log to the terminal instead, set
# root.handlers to [console].

version: 1

formatters:
  precise:
    format: '%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s'

handlers:
  file:
    class: logging.handlers.TimedRotatingFileHandler
    formatter: precise
    filename: ` + q(logFile) + `
    when: midnight
    backupCount: 3  # rotated files kept, not counting the current one
    encoding: utf8

  # Writes wait in memory until 10 lines have gathered, a WARNING or worse
  # comes, or 5 seconds have passed: a write per request would cost more
  # than the request. A crash can lose the last few INFO lines.
  buffer:
    class: synapse.logging.handlers.PeriodicallyFlushingMemoryHandler
    target: file
    capacity: 10
    flushLevel: 30  # WARNING
    period: 5

  console:
    class: logging.StreamHandler
    formatter: precise

loggers:
  synapse.storage.SQL:
    # DEBUG here would log SQL including access tokens.
    level: INFO

root:
  level: INFO
  handlers: [buffer]

disable_existing_loggers: false
`
}
