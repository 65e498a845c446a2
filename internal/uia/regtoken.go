package uia

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
)

// StageRegistrationToken is the token-authenticated registration stage.
const StageRegistrationToken = "m.login.registration_token"

// Errors a registration token reserver returns.
var (
	// ErrInvalidRegistrationToken: unknown, expired or used up. The client
	// gets the challenge again with 401 M_UNAUTHORIZED, as in Synapse.
	ErrInvalidRegistrationToken = errors.New("invalid registration token")
	// ErrRegistrationTokenChanged: the session already used another token
	// (400 M_INVALID_PARAM).
	ErrRegistrationTokenChanged = errors.New("registration token has changed")
)

// StageError is a Verifier error for a failed stage attempt that carries
// its own errcode. AuthorizeStage turns it into a challenge with that code.
type StageError struct {
	Code    string
	Message string
}

func (e *StageError) Error() string { return e.Code + ": " + e.Message }

// RegistrationTokenVerifier is the m.login.registration_token stage. The
// auth dict must carry a string token and the session; reserve makes the
// session hold one use of the token (see accounts.RegistrationTokens) and
// returns ErrInvalidRegistrationToken or ErrRegistrationTokenChanged.
func RegistrationTokenVerifier(reserve func(ctx context.Context, token, session string) error) Verifier {
	return func(ctx context.Context, a *Auth) (string, error) {
		raw, ok := a.Fields["token"]
		if !ok || isNull(raw) {
			return "", &ParamError{Code: "M_MISSING_PARAM", Message: "Missing token"}
		}
		var token string
		if json.Unmarshal(raw, &token) != nil {
			return "", &ParamError{Code: "M_INVALID_PARAM", Message: "Token must be a string"}
		}
		if a.Session == "" {
			return "", &ParamError{Code: "M_MISSING_PARAM", Message: "Missing UIA session"}
		}
		err := reserve(ctx, token, a.Session)
		switch {
		case errors.Is(err, ErrInvalidRegistrationToken):
			return "", &StageError{Code: "M_UNAUTHORIZED", Message: "Invalid registration token"}
		case errors.Is(err, ErrRegistrationTokenChanged):
			return "", &ParamError{Code: "M_INVALID_PARAM", Message: "Registration token has changed"}
		}
		return "", err
	}
}

// AuthorizeStage is Authorize, except that a Verifier's *StageError is
// not returned as an error but as the session's challenge carrying the
// error's code, so the client may try the stage again.
func (s *Sessions) AuthorizeStage(ctx context.Context, auth *Auth, req Request) (bool, Challenge, error) {
	done, ch, err := s.Authorize(ctx, auth, req)
	var se *StageError
	if !errors.As(err, &se) || auth == nil || auth.Session == "" {
		return done, ch, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.live(auth.Session)
	if sess == nil {
		return false, Challenge{}, ErrUnknownSession
	}
	ch = Challenge{Errcode: se.Code, Error: se.Message, Flows: req.Flows, Params: req.Params,
		Session: auth.Session, Completed: slices.Clone(sess.completed)}
	if ch.Params == nil {
		ch.Params = map[string]any{}
	}
	return false, ch, nil
}
