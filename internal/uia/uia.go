// Package uia implements User-Interactive Authentication: the protocol by
// which an endpoint asks a client to complete one of several flows of
// authentication stages before it acts.
//
// A session is bound to the request that started it (method, path, an
// optional fingerprint of the parameters that must not change, and the
// authenticated user), is consumed when a flow completes, and expires after
// SessionLifetime. Stages that need proof (m.login.password) are checked by
// a Verifier the endpoint supplies, since this package knows no accounts.
package uia

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"slices"
	"sync"
	"time"
)

// Stage types.
const (
	StageDummy    = "m.login.dummy"
	StagePassword = "m.login.password"
)

// Flow is one acceptable sequence of stages.
type Flow struct {
	Stages []string `json:"stages"`
}

// Challenge is the 401 body telling the client what remains to be done.
// Errcode and Error are set when the client's attempt at a stage failed
// and it may try again.
type Challenge struct {
	Errcode   string         `json:"errcode,omitempty"`
	Error     string         `json:"error,omitempty"`
	Flows     []Flow         `json:"flows"`
	Params    map[string]any `json:"params"`
	Session   string         `json:"session"`
	Completed []string       `json:"completed,omitempty"`
}

// Errors from Check and Authorize. A failed stage attempt is not an error:
// it is a Challenge carrying an errcode.
var (
	ErrUnknownSession = errors.New("unknown session ID")
	ErrUnknownStage   = errors.New("unrecognised login type")
	// ErrSessionMismatch: the session was started for another request or
	// another user.
	ErrSessionMismatch = errors.New("requested operation has changed during the UI authentication session")
	// ErrWrongUser: a stage proved the identity of someone other than the
	// user the session belongs to.
	ErrWrongUser = errors.New("authenticated as a different user")
	// ErrInvalidCredentials is what a Verifier returns for a wrong secret;
	// the client gets the challenge again with M_FORBIDDEN.
	ErrInvalidCredentials = errors.New("invalid credentials")
)

// ParamError is a malformed auth dict (a non-string password, an unknown
// identifier type): a 400 with this errcode, and no stage is recorded.
type ParamError struct {
	Code    string // M_INVALID_PARAM, M_MISSING_PARAM, M_UNKNOWN, ...
	Message string
}

func (e *ParamError) Error() string { return e.Code + ": " + e.Message }

// Verifier checks the proof a stage carries and returns the user it proves
// (empty when the stage proves no identity). It returns
// ErrInvalidCredentials for a wrong secret and *ParamError for a malformed
// dict; any other error is internal.
type Verifier func(ctx context.Context, auth *Auth) (userID string, err error)

// Request is what a session is checked against.
type Request struct {
	Flows  []Flow
	Params map[string]any
	// Verifiers check the stages that need proof; a stage in Flows other
	// than m.login.dummy without a verifier can never complete.
	Verifiers map[string]Verifier

	// The request a session is bound to. Fingerprint digests the request
	// parameters that must stay the same (e.g. the devices to delete).
	Method, Path, Fingerprint string
	// UserID is the authenticated user making the request ("" for
	// registration); stages must prove this user.
	UserID string
}

func (r *Request) binding() binding {
	return binding{method: r.Method, path: r.Path, fingerprint: r.Fingerprint, userID: r.UserID}
}

type binding struct{ method, path, fingerprint, userID string }

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
	bound     binding
	completed []string
}

// NewSessions returns an empty session store.
func NewSessions() *Sessions {
	return &Sessions{sessions: map[string]*session{}, now: time.Now}
}

// Check is Authorize for unauthenticated endpoints whose stages need no
// verifier (registration with m.login.dummy).
func (s *Sessions) Check(auth *Auth, flows []Flow) (bool, Challenge, error) {
	return s.Authorize(context.Background(), auth, Request{Flows: flows})
}

// Authorize records the stage in auth (nil when the request carried none)
// and reports whether some flow of req is now complete; the session is then
// consumed. When no flow is complete, the returned Challenge is what to send
// the client with a 401.
func (s *Sessions) Authorize(ctx context.Context, auth *Auth, req Request) (bool, Challenge, error) {
	id, err := s.open(auth, req)
	if err != nil {
		return false, Challenge{}, err
	}
	var failure error
	if auth != nil && auth.Type != "" {
		if !offered(req.Flows, auth.Type) {
			return false, Challenge{}, ErrUnknownStage
		}
		// Verification (bcrypt) runs without the lock.
		failure, err = verify(ctx, auth, req)
		if err != nil {
			return false, Challenge{}, err
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.live(id)
	if sess == nil {
		// Completed or expired by a concurrent request meanwhile.
		return false, Challenge{}, ErrUnknownSession
	}
	if auth != nil && auth.Type != "" && failure == nil && !slices.Contains(sess.completed, auth.Type) {
		if !inOrder(req.Flows, sess.completed, auth.Type) {
			failure = errors.New("stages must be completed in the order of a flow")
		} else {
			sess.completed = append(sess.completed, auth.Type)
		}
	}
	if failure == nil {
		for _, f := range req.Flows {
			if containsAll(sess.completed, f.Stages) {
				delete(s.sessions, id)
				return true, Challenge{}, nil
			}
		}
	}
	ch := Challenge{Flows: req.Flows, Params: req.Params, Session: id, Completed: slices.Clone(sess.completed)}
	if ch.Params == nil {
		ch.Params = map[string]any{}
	}
	if failure != nil {
		ch.Errcode, ch.Error = "M_FORBIDDEN", failure.Error()
	}
	return false, ch, nil
}

// open finds the session auth names, checking it is bound to req, or
// starts one bound to req.
func (s *Sessions) open(auth *Auth, req Request) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if auth == nil || auth.Session == "" {
		return s.begin(req.binding()), nil
	}
	sess := s.live(auth.Session)
	if sess == nil {
		return "", ErrUnknownSession
	}
	if sess.bound != req.binding() {
		return "", ErrSessionMismatch
	}
	return auth.Session, nil
}

// live returns the unexpired session id, dropping it if expired.
func (s *Sessions) live(id string) *session {
	sess := s.sessions[id]
	if sess != nil && s.now().Sub(sess.started) > SessionLifetime {
		delete(s.sessions, id)
		return nil
	}
	return sess
}

// verify checks the proof auth carries. A wrong secret is returned as
// failure (the client may retry); malformed input and internal errors as
// err.
func verify(ctx context.Context, auth *Auth, req Request) (failure, err error) {
	if auth.Type == StageDummy {
		return nil, nil
	}
	v := req.Verifiers[auth.Type]
	if v == nil {
		return nil, ErrUnknownStage
	}
	userID, err := v(ctx, auth)
	if errors.Is(err, ErrInvalidCredentials) {
		return errors.New("Invalid username or password"), nil
	}
	if err != nil {
		return nil, err
	}
	if req.UserID != "" && userID != req.UserID {
		return nil, ErrWrongUser
	}
	return nil, nil
}

func (s *Sessions) begin(b binding) string {
	now := s.now()
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
	var b18 [18]byte
	_, _ = rand.Read(b18[:])
	id := base64.RawURLEncoding.EncodeToString(b18[:])
	s.sessions[id] = &session{started: now, bound: b}
	return id
}

func offered(flows []Flow, stage string) bool {
	for _, f := range flows {
		if slices.Contains(f.Stages, stage) {
			return true
		}
	}
	return false
}

// inOrder reports whether stage may follow the completed stages in some
// flow: the flows' stages must be completed in order.
func inOrder(flows []Flow, completed []string, stage string) bool {
	for _, f := range flows {
		if len(f.Stages) > len(completed) && slices.Equal(f.Stages[:len(completed)], completed) && f.Stages[len(completed)] == stage {
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
