// Package consent serves the server's privacy policy and records users'
// agreement to it (Synapse's user_consent and consent resource). It knows
// nothing of HTTP.
//
// The policy of each version is <template_dir>/en/<version>.html and the
// page shown after agreeing <template_dir>/en/success.html, in Synapse's
// layout; templates are read on each request, so edits show at once.
package consent

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/axonhs/axon/internal/storage"
)

// Errors a caller can act on.
var (
	// ErrUnknownVersion: no policy file for the version asked for.
	ErrUnknownVersion = errors.New("unknown policy version")
	// ErrNoSuccessPage: success.html is missing.
	ErrNoSuccessPage = errors.New("success.html not found")
	// ErrBadMAC: the h parameter does not sign the user.
	ErrBadMAC      = errors.New("HMAC incorrect")
	ErrUnknownUser = errors.New("unknown user")
)

// language is the only one Synapse serves so far.
const language = "en"

// maxTemplateSize bounds what is read of a template file.
const maxTemplateSize = 1 << 20

// Store is the storage the service needs.
type Store interface {
	ConsentVersion(ctx context.Context, userID string) (string, error)
	SetConsentVersion(ctx context.Context, userID, version string, at time.Time) error
}

// Settings are the user_consent settings the service obeys.
type Settings struct {
	TemplateDir string
	Version     string // the current version, served when none is asked for
	// FormSecret (form_secret) keys the HMAC that lets a link speak for a
	// user without a login.
	FormSecret string
	ServerName string
}

// Service serves the policy and records agreement.
type Service struct {
	store    Store
	settings Settings
	now      func() time.Time
}

// New returns the consent service.
func New(store Store, settings Settings) *Service {
	return &Service{store: store, settings: settings, now: time.Now}
}

// ValidVersion reports whether v may name a policy version: it becomes the
// file name <v>.html in the template directory, so it must not be able to
// leave the directory or name a hidden file.
func ValidVersion(v string) bool {
	if v == "" || len(v) > 100 || v[0] == '.' {
		return false
	}
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// MAC is the h parameter of a consent link for user: hex HMAC-SHA256 of
// the user (as written in the link, a user ID or localpart) keyed by
// form_secret, as Synapse computes it.
func (s *Service) MAC(user string) string {
	m := hmac.New(sha256.New, []byte(s.settings.FormSecret))
	m.Write([]byte(user))
	return hex.EncodeToString(m.Sum(nil))
}

// Request is what a consent link or form carries.
type Request struct {
	Version string // "" for the current version (viewing only)
	// User is who the link is for, a user ID or a localpart; "" views the
	// policy anonymously (before registering). MAC must sign it.
	User string
	MAC  string
}

// Page renders the policy. For a user it also tells the template whether
// they agreed to this version already and gives it what the agreement
// form posts back (user, userhmac, version).
func (s *Service) Page(ctx context.Context, req Request) (string, error) {
	version := req.Version
	if version == "" {
		version = s.settings.Version
	}
	tmpl, err := s.template(version + ".html")
	if errors.Is(err, fs.ErrNotExist) {
		return "", ErrUnknownVersion
	}
	if err != nil {
		return "", err
	}
	vars := map[string]any{"version": version, "public_version": req.User == "", "has_consented": false}
	if req.User != "" {
		userID, err := s.checkMAC(req)
		if err != nil {
			return "", err
		}
		agreed, err := s.store.ConsentVersion(ctx, userID)
		if errors.Is(err, storage.ErrNotFound) {
			return "", ErrUnknownUser
		}
		if err != nil {
			return "", err
		}
		vars["user"], vars["userhmac"], vars["has_consented"] = req.User, req.MAC, agreed == version
	}
	return tmpl.execute(vars), nil
}

// Agree records that the user agreed to the version and renders the
// success page.
func (s *Service) Agree(ctx context.Context, req Request) (string, error) {
	userID, err := s.checkMAC(req)
	if err != nil {
		return "", err
	}
	// Only a version that exists can be agreed to.
	if _, err := s.template(req.Version + ".html"); errors.Is(err, fs.ErrNotExist) {
		return "", ErrUnknownVersion
	} else if err != nil {
		return "", err
	}
	success, err := s.template("success.html")
	if errors.Is(err, fs.ErrNotExist) {
		return "", ErrNoSuccessPage
	}
	if err != nil {
		return "", err
	}
	err = s.store.SetConsentVersion(ctx, userID, req.Version, s.now())
	if errors.Is(err, storage.ErrNotFound) {
		return "", ErrUnknownUser
	}
	if err != nil {
		return "", err
	}
	return success.execute(map[string]any{"version": req.Version}), nil
}

// checkMAC verifies the link's signature and returns the full user ID.
func (s *Service) checkMAC(req Request) (string, error) {
	want := s.MAC(req.User)
	if s.settings.FormSecret == "" || !hmac.Equal([]byte(want), []byte(req.MAC)) {
		return "", ErrBadMAC
	}
	if strings.HasPrefix(req.User, "@") {
		return req.User, nil
	}
	return "@" + req.User + ":" + s.settings.ServerName, nil
}

// template reads and parses a file of the language directory. name is
// <version>.html for a valid version or success.html, so it cannot leave
// the directory.
func (s *Service) template(name string) (*template, error) {
	if !ValidVersion(strings.TrimSuffix(name, ".html")) {
		return nil, fmt.Errorf("template %q: %w", name, fs.ErrNotExist)
	}
	f, err := os.Open(filepath.Join(s.settings.TemplateDir, language, name))
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, maxTemplateSize+1))
	if err != nil {
		return nil, fmt.Errorf("read template %s: %w", name, err)
	}
	if len(src) > maxTemplateSize {
		return nil, fmt.Errorf("template %s is larger than %d bytes", name, maxTemplateSize)
	}
	t, err := parseTemplate(string(src))
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	return t, nil
}
