package uia

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
)

func tokenAuth(token any, session string) *Auth {
	a := &Auth{Type: StageRegistrationToken, Session: session, Fields: map[string]json.RawMessage{}}
	if token != nil {
		b, _ := json.Marshal(token)
		a.Fields["token"] = b
	}
	return a
}

func TestRegistrationTokenStage(t *testing.T) {
	ctx := context.Background()
	flows := []Flow{{Stages: []string{StageRegistrationToken, StageDummy}}}
	held := map[string]string{}
	reserve := func(_ context.Context, token, session string) error {
		if token != "good" {
			return ErrInvalidRegistrationToken
		}
		if h, ok := held[session]; ok && h != token {
			return ErrRegistrationTokenChanged
		}
		held[session] = token
		return nil
	}
	req := Request{Flows: flows, Verifiers: map[string]Verifier{StageRegistrationToken: RegistrationTokenVerifier(reserve)}}
	s := NewSessions()

	_, ch, err := s.AuthorizeStage(ctx, nil, req)
	if err != nil || ch.Session == "" {
		t.Fatalf("challenge: %+v %v", ch, err)
	}
	sess := ch.Session

	// Malformed dicts are 400s.
	for name, a := range map[string]*Auth{
		"no token":   tokenAuth(nil, sess),
		"int token":  tokenAuth(12, sess),
		"no session": tokenAuth("good", ""),
	} {
		var pe *ParamError
		if _, _, err := s.AuthorizeStage(ctx, a, req); !errors.As(err, &pe) {
			t.Errorf("%s: %v, want a ParamError", name, err)
		}
	}

	// A bad token: the challenge again, with M_UNAUTHORIZED.
	done, ch, err := s.AuthorizeStage(ctx, tokenAuth("bad", sess), req)
	if err != nil || done || ch.Errcode != "M_UNAUTHORIZED" || ch.Error != "Invalid registration token" || ch.Session != sess || len(ch.Completed) != 0 {
		t.Fatalf("bad token: done=%v ch=%+v err=%v", done, ch, err)
	}

	// The good token completes the stage; dummy then the flow.
	done, ch, err = s.AuthorizeStage(ctx, tokenAuth("good", sess), req)
	if err != nil || done || ch.Errcode != "" || len(ch.Completed) != 1 || ch.Completed[0] != StageRegistrationToken {
		t.Fatalf("good token: done=%v ch=%+v err=%v", done, ch, err)
	}
	done, _, err = s.AuthorizeStage(ctx, &Auth{Type: StageDummy, Session: sess}, req)
	if err != nil || !done {
		t.Fatalf("dummy: done=%v err=%v", done, err)
	}

	// Dummy alone does not complete the flow: the token comes first.
	_, ch, _ = s.AuthorizeStage(ctx, nil, req)
	done, ch, err = s.AuthorizeStage(ctx, &Auth{Type: StageDummy, Session: ch.Session}, req)
	if err != nil || done || ch.Errcode != "M_FORBIDDEN" {
		t.Fatalf("dummy first: done=%v ch=%+v err=%v", done, ch, err)
	}

	// Another token in a session that holds one is a 400.
	held[ch.Session] = "other"
	var pe *ParamError
	if _, _, err := s.AuthorizeStage(ctx, tokenAuth("good", ch.Session), req); !errors.As(err, &pe) || pe.Code != "M_INVALID_PARAM" {
		t.Fatalf("changed token: %v", err)
	}
}
