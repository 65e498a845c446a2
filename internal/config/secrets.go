package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// secretKeys are the secrets that may be given inline or via a *_path file.
var secretKeys = []struct {
	name  string
	field func(*Config) *string
}{
	{"registration_shared_secret", func(c *Config) *string { return &c.RegistrationSharedSecret }},
	{"macaroon_secret_key", func(c *Config) *string { return &c.MacaroonSecretKey }},
	{"form_secret", func(c *Config) *string { return &c.FormSecret }},
}

// secret records a secret or *_path entry; resolveSecrets decides later.
func (l *loader) secret(e entry, path string) {
	if isNull(e.val) {
		return
	}
	l.secrets[e.key] = e
}

func (l *loader) resolveSecrets() {
	for _, s := range secretKeys {
		inline, hasInline := l.secrets[s.name]
		file, hasFile := l.secrets[s.name+"_path"]
		switch {
		case hasInline && hasFile:
			// Synapse refuses this too: it is unclear which one is meant.
			l.w.errorf(file.keyNode, file.key, "cannot be used together with %s (line %d); remove one of them", s.name, inline.keyNode.Line)
		case hasInline:
			if v, ok := l.w.str(inline.val, s.name); ok {
				*s.field(l.c) = v
			}
		case hasFile && s.name == "registration_shared_secret" && l.secretFileMissing(file):
			// Synapse creates this one on first start; so does Axon
			// (EnsureRegistrationSecret), so a missing file is fine.
		case hasFile:
			if v, ok := l.readSecretFile(file.val, file.key); ok {
				*s.field(l.c) = v
			}
		}
	}
}

// secretFileMissing reports whether the *_path entry names a file that does
// not exist yet, and records the path for EnsureRegistrationSecret.
func (l *loader) secretFileMissing(file entry) bool {
	name, ok := l.w.str(file.val, file.key)
	if !ok {
		return false
	}
	if _, err := os.Stat(absPath(name)); !errors.Is(err, fs.ErrNotExist) {
		return false
	}
	l.c.RegistrationSharedSecretPath = absPath(name)
	return true
}

// EnsureRegistrationSecret creates the file named by
// registration_shared_secret_path with a new random secret when it does not
// exist yet, as Synapse does on start-up, and puts the secret in cfg.
func EnsureRegistrationSecret(cfg *Config) error {
	if cfg.RegistrationSharedSecret != "" || cfg.RegistrationSharedSecretPath == "" {
		return nil
	}
	secret, err := randomSecret()
	if err != nil {
		return err
	}
	created, err := createFile(cfg.RegistrationSharedSecretPath, []byte(secret+"\n"), 0o600)
	if err != nil {
		return fmt.Errorf("registration_shared_secret_path: %w", err)
	}
	if !created {
		// Another process created it meanwhile: use theirs.
		data, err := os.ReadFile(cfg.RegistrationSharedSecretPath)
		if err != nil {
			return fmt.Errorf("registration_shared_secret_path: %w", err)
		}
		secret = strings.TrimRight(string(data), "\r\n")
	}
	cfg.RegistrationSharedSecret = secret
	return nil
}

// readSecretFile reads a secret from the file named by n. The trailing line
// break that editors add is not part of the secret.
func (l *loader) readSecretFile(n *yaml.Node, path string) (string, bool) {
	name, ok := l.w.str(n, path)
	if !ok {
		return "", false
	}
	data, err := os.ReadFile(absPath(name))
	if err != nil {
		l.w.errorf(n, path, "cannot read secret file: %v", err)
		return "", false
	}
	v := strings.TrimRight(string(data), "\r\n")
	if v == "" {
		l.w.errorf(n, path, "secret file %s is empty", name)
		return "", false
	}
	return v, true
}

// checkNoInlineAndFile is used by sections (e.g. database args) that have
// their own password/password_file pair.
func (l *loader) checkNoInlineAndFile(inline, file *entry, fileKey, inlineKey string) bool {
	if inline != nil && file != nil {
		l.w.errorf(file.keyNode, fileKey, "cannot be used together with %s (line %d); remove one of them", inlineKey, inline.keyNode.Line)
		return false
	}
	return true
}
