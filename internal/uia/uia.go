// Package uia implements User-Interactive Authentication: the protocol by
// which an endpoint asks a client to complete one of several flows of
// authentication stages before it acts.
package uia

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"slices"
	"sync"
	"time"
)

// Stage types.
const (
	StageDummy = "m.login.dummy"
)

// Flow is one acceptable sequence of stages.
type Flow struct {
	Stages []string `json:"stages"`
}

// Auth is the `auth` object of a request.
type Auth struct {
	Type    string `json:"type"`
	Session string `json:"session"`
}

// Challenge is the 401 body telling the client what remains to be done.
type Challenge struct {
	Flows     []Flow         `json:"flows"`
	Params    map[string]any `json:"params"`
	Session   string         `json:"session"`
	Completed []string       `json:"completed,omitempty"`
}

// Errors from Check.
var (
	ErrUnknownSession = errors.New("unknown session ID")
	ErrUnknownStage   = errors.New("unrecognised login type")
)

// SessionLifetime is how long a client has to finish authenticating.
const SessionLifetime = 30 * time.Minute

// maxSessions bounds memory held for unfinished sessions.
const maxSessions = 50_000

// Sessions holds the progress of unfinished authentications.
type Sessions struct {
	mu       sync.Mutex
	sessions map[string]*session
	now      func() time.Time
}

type session struct {
	started   time.Time
	completed []string
}

// NewSessions returns an empty session store.
func NewSessions() *Sessions {
	return &Sessions{sessions: map[string]*session{}, now: time.Now}
}

// Check records the stage in auth (nil when the request carried none) and
// reports whether some flow is now complete. When it is not, the returned
// Challenge is what to send the client with a 401.
func (s *Sessions) Check(auth *Auth, flows []Flow) (bool, Challenge, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()

	var id string
	var sess *session
	if auth != nil && auth.Session != "" {
		id = auth.Session
		sess = s.sessions[id]
		if sess == nil || now.Sub(sess.started) > SessionLifetime {
			delete(s.sessions, id)
			return false, Challenge{}, ErrUnknownSession
		}
	} else {
		id, sess = s.begin(now)
	}

	if auth != nil && auth.Type != "" {
		if !offered(flows, auth.Type) || !stagePasses(auth) {
			return false, Challenge{}, ErrUnknownStage
		}
		if !slices.Contains(sess.completed, auth.Type) {
			sess.completed = append(sess.completed, auth.Type)
		}
	}
	for _, f := range flows {
		if containsAll(sess.completed, f.Stages) {
			delete(s.sessions, id)
			return true, Challenge{}, nil
		}
	}
	return false, Challenge{Flows: flows, Params: map[string]any{}, Session: id, Completed: slices.Clone(sess.completed)}, nil
}

// stagePasses checks the proof a stage carries. m.login.dummy needs none.
func stagePasses(auth *Auth) bool {
	return auth.Type == StageDummy
}

func (s *Sessions) begin(now time.Time) (string, *session) {
	if len(s.sessions) >= maxSessions {
		for id, sess := range s.sessions {
			if now.Sub(sess.started) > SessionLifetime {
				delete(s.sessions, id)
			}
		}
		for id := range s.sessions {
			if len(s.sessions) < maxSessions {
				break
			}
			delete(s.sessions, id)
		}
	}
	var b [18]byte
	_, _ = rand.Read(b[:])
	id := base64.RawURLEncoding.EncodeToString(b[:])
	sess := &session{started: now}
	s.sessions[id] = sess
	return id, sess
}

func offered(flows []Flow, stage string) bool {
	for _, f := range flows {
		if slices.Contains(f.Stages, stage) {
			return true
		}
	}
	return false
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}
