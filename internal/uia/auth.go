package uia

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
)

// Auth is the `auth` object of a request: its type and session, and every
// field for the stage's Verifier.
type Auth struct {
	Type    string
	Session string
	Fields  map[string]json.RawMessage
}

// UnmarshalJSON reads an auth dict; type and session, when present, must be
// strings.
func (a *Auth) UnmarshalJSON(b []byte) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return err
	}
	if fields == nil {
		return errors.New("auth must be an object")
	}
	*a = Auth{Fields: fields}
	for key, dst := range map[string]*string{"type": &a.Type, "session": &a.Session} {
		if raw, ok := fields[key]; ok && !isNull(raw) {
			if err := json.Unmarshal(raw, dst); err != nil {
				return errors.New("auth." + key + " must be a string")
			}
		}
	}
	return nil
}

// ParseAuth decodes the optional `auth` member of a request body; nil when
// absent or null.
func ParseAuth(raw json.RawMessage) (*Auth, error) {
	if len(raw) == 0 || isNull(raw) {
		return nil, nil
	}
	var a Auth
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// MaxPasswordLength is the longest password a stage accepts, as Synapse
// bounds the passwords it sets.
const MaxPasswordLength = 512

// maxUserLength bounds the identifier's user: a user ID is at most 255 bytes.
const maxUserLength = 255

// PasswordVerifier is the m.login.password stage. It reads the identifier
// (an m.id.user identifier, or the legacy top-level user) and the password,
// and asks check, which returns the user ID the password belongs to or
// ErrInvalidCredentials.
func PasswordVerifier(check func(ctx context.Context, user, password string) (string, error)) Verifier {
	return func(ctx context.Context, a *Auth) (string, error) {
		var pw string
		if raw, ok := a.Fields["password"]; !ok || isNull(raw) {
			return "", &ParamError{Code: "M_MISSING_PARAM", Message: "Missing parameter: password"}
		} else if json.Unmarshal(raw, &pw) != nil {
			return "", &ParamError{Code: "M_INVALID_PARAM", Message: "Bad parameter: password"}
		}
		if len(pw) > MaxPasswordLength {
			return "", &ParamError{Code: "M_INVALID_PARAM", Message: "Bad parameter: password"}
		}
		user, err := identifiedUser(a.Fields)
		if err != nil {
			return "", err
		}
		return check(ctx, user, pw)
	}
}

// identifiedUser returns the user an auth dict names, from its m.id.user
// identifier or the deprecated top-level user field.
func identifiedUser(fields map[string]json.RawMessage) (string, error) {
	var user string
	if raw, ok := fields["identifier"]; ok && !isNull(raw) {
		var ident struct {
			Type *string `json:"type"`
			User *string `json:"user"`
		}
		if json.Unmarshal(raw, &ident) != nil || ident.Type == nil {
			return "", &ParamError{Code: "M_INVALID_PARAM", Message: "Bad parameter: identifier"}
		}
		if *ident.Type != "m.id.user" {
			return "", &ParamError{Code: "M_UNKNOWN", Message: "Unknown login identifier type"}
		}
		if ident.User != nil {
			user = *ident.User
		}
	} else if raw, ok := fields["user"]; ok && !isNull(raw) {
		if json.Unmarshal(raw, &user) != nil {
			return "", &ParamError{Code: "M_INVALID_PARAM", Message: "Bad parameter: user"}
		}
	}
	if user == "" {
		return "", &ParamError{Code: "M_MISSING_PARAM", Message: "User identifier is missing 'user' key"}
	}
	if len(user) > maxUserLength {
		return "", &ParamError{Code: "M_INVALID_PARAM", Message: "Bad parameter: user"}
	}
	return user, nil
}
