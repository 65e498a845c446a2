package uia

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

var dummyFlow = []Flow{{Stages: []string{StageDummy}}}

func TestChallengeThenDummy(t *testing.T) {
	s := NewSessions()
	done, ch, err := s.Check(nil, dummyFlow)
	if err != nil || done || ch.Session == "" || len(ch.Flows) != 1 {
		t.Fatalf("first call: done=%v ch=%+v err=%v", done, ch, err)
	}
	done, _, err = s.Check(&Auth{Type: StageDummy, Session: ch.Session}, dummyFlow)
	if err != nil || !done {
		t.Fatalf("dummy stage: done=%v err=%v", done, err)
	}
	// A finished session cannot be replayed.
	if _, _, err := s.Check(&Auth{Type: StageDummy, Session: ch.Session}, dummyFlow); !errors.Is(err, ErrUnknownSession) {
		t.Fatalf("replay: %v", err)
	}
}

func TestDummyWithoutSession(t *testing.T) {
	done, _, err := NewSessions().Check(&Auth{Type: StageDummy}, dummyFlow)
	if err != nil || !done {
		t.Fatalf("done=%v err=%v", done, err)
	}
}

func TestRejections(t *testing.T) {
	s := NewSessions()
	if _, _, err := s.Check(&Auth{Type: StageDummy, Session: "made-up"}, dummyFlow); !errors.Is(err, ErrUnknownSession) {
		t.Fatalf("made-up session: %v", err)
	}
	if _, _, err := s.Check(&Auth{Type: "m.login.password"}, dummyFlow); !errors.Is(err, ErrUnknownStage) {
		t.Fatalf("stage not offered: %v", err)
	}
}

func TestSessionsExpire(t *testing.T) {
	s := NewSessions()
	now := time.Now()
	s.now = func() time.Time { return now }
	_, ch, _ := s.Check(nil, dummyFlow)
	now = now.Add(SessionLifetime + time.Minute)
	if _, _, err := s.Check(&Auth{Type: StageDummy, Session: ch.Session}, dummyFlow); !errors.Is(err, ErrUnknownSession) {
		t.Fatalf("expired session accepted: %v", err)
	}
}

func TestSessionStoreIsBounded(t *testing.T) {
	s := NewSessions()
	for range maxSessions + 10 {
		s.Check(nil, dummyFlow)
	}
	if len(s.sessions) > maxSessions {
		t.Fatalf("%d sessions held", len(s.sessions))
	}
}

var passwordFlow = []Flow{{Stages: []string{StagePassword}}}

// fakePasswords accepts "secret" for @alice:example.org and "bobpw" for
// @bob:example.org, by localpart or full ID.
func fakePasswords(ctx context.Context, user, password string) (string, error) {
	known := map[string]string{"@alice:example.org": "secret", "@bob:example.org": "bobpw"}
	if !strings.HasPrefix(user, "@") {
		user = "@" + user + ":example.org"
	}
	if pw, ok := known[user]; ok && pw == password {
		return user, nil
	}
	return "", ErrInvalidCredentials
}

func aliceRequest(path string) Request {
	return Request{
		Flows:     passwordFlow,
		Verifiers: map[string]Verifier{StagePassword: PasswordVerifier(fakePasswords)},
		Method:    "DELETE", Path: path, UserID: "@alice:example.org",
	}
}

func passwordAuth(t *testing.T, session, body string) *Auth {
	t.Helper()
	a, err := ParseAuth(json.RawMessage(body))
	if err != nil {
		t.Fatal(err)
	}
	if session != "" {
		a.Session = session
	}
	return a
}

func TestPasswordStage(t *testing.T) {
	ctx := context.Background()
	s := NewSessions()
	req := aliceRequest("/devices/A")
	done, ch, err := s.Authorize(ctx, nil, req)
	if err != nil || done || ch.Session == "" || ch.Errcode != "" {
		t.Fatalf("first call: done=%v ch=%+v err=%v", done, ch, err)
	}

	// A wrong password: the challenge again, with M_FORBIDDEN, same session.
	done, ch2, err := s.Authorize(ctx, passwordAuth(t, ch.Session,
		`{"type":"m.login.password","identifier":{"type":"m.id.user","user":"alice"},"password":"wrong"}`), req)
	if err != nil || done || ch2.Errcode != "M_FORBIDDEN" || ch2.Session != ch.Session || len(ch2.Flows) != 1 || len(ch2.Completed) != 0 {
		t.Fatalf("wrong password: done=%v ch=%+v err=%v", done, ch2, err)
	}

	// Someone else's correct password does not authorise alice's request.
	_, _, err = s.Authorize(ctx, passwordAuth(t, ch.Session,
		`{"type":"m.login.password","identifier":{"type":"m.id.user","user":"bob"},"password":"bobpw"}`), req)
	if !errors.Is(err, ErrWrongUser) {
		t.Fatalf("other user's password: %v", err)
	}

	// The right password, with the legacy top-level user.
	done, _, err = s.Authorize(ctx, passwordAuth(t, ch.Session,
		`{"type":"m.login.password","user":"@alice:example.org","password":"secret"}`), req)
	if err != nil || !done {
		t.Fatalf("right password: done=%v err=%v", done, err)
	}

	// The session is consumed: replaying it fails.
	_, _, err = s.Authorize(ctx, passwordAuth(t, ch.Session,
		`{"type":"m.login.password","user":"alice","password":"secret"}`), req)
	if !errors.Is(err, ErrUnknownSession) {
		t.Fatalf("replay: %v", err)
	}
}

func TestSessionIsBoundToItsRequest(t *testing.T) {
	ctx := context.Background()
	s := NewSessions()
	req := aliceRequest("/devices/A")
	_, ch, _ := s.Authorize(ctx, nil, req)
	good := `{"type":"m.login.password","user":"alice","password":"secret"}`

	other := req
	other.Path = "/devices/B"
	if _, _, err := s.Authorize(ctx, passwordAuth(t, ch.Session, good), other); !errors.Is(err, ErrSessionMismatch) {
		t.Fatalf("another path: %v", err)
	}
	other = req
	other.Method = "POST"
	if _, _, err := s.Authorize(ctx, passwordAuth(t, ch.Session, good), other); !errors.Is(err, ErrSessionMismatch) {
		t.Fatalf("another method: %v", err)
	}
	other = req
	other.Fingerprint = "different devices"
	if _, _, err := s.Authorize(ctx, passwordAuth(t, ch.Session, good), other); !errors.Is(err, ErrSessionMismatch) {
		t.Fatalf("another body: %v", err)
	}
	other = req
	other.UserID = "@bob:example.org"
	if _, _, err := s.Authorize(ctx, passwordAuth(t, ch.Session,
		`{"type":"m.login.password","user":"bob","password":"bobpw"}`), other); !errors.Is(err, ErrSessionMismatch) {
		t.Fatalf("another user: %v", err)
	}
	// A registration session cannot authorise a device deletion.
	_, regCh, _ := s.Check(nil, dummyFlow)
	if _, _, err := s.Authorize(ctx, passwordAuth(t, regCh.Session, good), req); !errors.Is(err, ErrSessionMismatch) {
		t.Fatalf("registration session: %v", err)
	}
	// After all that, the session still works for its own request.
	if done, _, err := s.Authorize(ctx, passwordAuth(t, ch.Session, good), req); err != nil || !done {
		t.Fatalf("own request: done=%v err=%v", done, err)
	}
}

func TestPasswordStageBadInput(t *testing.T) {
	ctx := context.Background()
	long := strings.Repeat("x", MaxPasswordLength+1)
	cases := map[string]string{
		`{"type":"m.login.password","user":"alice","password":12}`:                                  "M_INVALID_PARAM",
		`{"type":"m.login.password","user":"alice"}`:                                                "M_MISSING_PARAM",
		`{"type":"m.login.password","password":"secret"}`:                                           "M_MISSING_PARAM",
		`{"type":"m.login.password","identifier":{"type":"m.id.thirdparty"},"password":"secret"}`:   "M_UNKNOWN",
		`{"type":"m.login.password","identifier":"alice","password":"secret"}`:                      "M_INVALID_PARAM",
		`{"type":"m.login.password","identifier":{"type":"m.id.user","user":5},"password":"s"}`:     "M_INVALID_PARAM",
		`{"type":"m.login.password","user":["alice"],"password":"secret"}`:                          "M_INVALID_PARAM",
		`{"type":"m.login.password","user":"alice","password":"` + long + `"}`:                      "M_INVALID_PARAM",
		`{"type":"m.login.password","user":"` + strings.Repeat("a", 300) + `","password":"secret"}`: "M_INVALID_PARAM",
	}
	for body, code := range cases {
		s := NewSessions()
		req := aliceRequest("/devices/A")
		_, ch, _ := s.Authorize(ctx, nil, req)
		_, _, err := s.Authorize(ctx, passwordAuth(t, ch.Session, body), req)
		var pe *ParamError
		if !errors.As(err, &pe) || pe.Code != code {
			t.Errorf("%.80s: %v, want %s", body, err, code)
			continue
		}
		// Nothing was recorded: the session is still waiting for the stage.
		done, ch2, err := s.Authorize(ctx, &Auth{Session: ch.Session}, req)
		if err != nil || done || len(ch2.Completed) != 0 {
			t.Errorf("%.80s: afterwards done=%v ch=%+v err=%v", body, done, ch2, err)
		}
	}
	if _, err := ParseAuth(json.RawMessage(`{"type":5}`)); err == nil {
		t.Error("non-string type accepted")
	}
	if _, err := ParseAuth(json.RawMessage(`"x"`)); err == nil {
		t.Error("non-object auth accepted")
	}
}

func TestWrongStageForEndpoint(t *testing.T) {
	ctx := context.Background()
	s := NewSessions()
	req := aliceRequest("/devices/A")
	_, ch, _ := s.Authorize(ctx, nil, req)
	// m.login.dummy is not offered for a device deletion.
	if _, _, err := s.Authorize(ctx, &Auth{Type: StageDummy, Session: ch.Session}, req); !errors.Is(err, ErrUnknownStage) {
		t.Fatalf("dummy on a password endpoint: %v", err)
	}
	// An offered stage without a verifier never passes.
	req.Verifiers = nil
	if _, _, err := s.Authorize(ctx, passwordAuth(t, ch.Session, `{"type":"m.login.password","user":"alice","password":"secret"}`), req); !errors.Is(err, ErrUnknownStage) {
		t.Fatalf("stage without verifier: %v", err)
	}
}

func TestStagesInOrder(t *testing.T) {
	ctx := context.Background()
	s := NewSessions()
	req := Request{
		Flows:     []Flow{{Stages: []string{StagePassword, StageDummy}}},
		Verifiers: map[string]Verifier{StagePassword: PasswordVerifier(fakePasswords)},
		UserID:    "@alice:example.org",
	}
	_, ch, _ := s.Authorize(ctx, nil, req)
	done, ch2, err := s.Authorize(ctx, &Auth{Type: StageDummy, Session: ch.Session}, req)
	if err != nil || done || ch2.Errcode != "M_FORBIDDEN" || len(ch2.Completed) != 0 {
		t.Fatalf("out of order: done=%v ch=%+v err=%v", done, ch2, err)
	}
	done, ch3, err := s.Authorize(ctx, passwordAuth(t, ch.Session, `{"type":"m.login.password","user":"alice","password":"secret"}`), req)
	if err != nil || done || len(ch3.Completed) != 1 {
		t.Fatalf("first stage: done=%v ch=%+v err=%v", done, ch3, err)
	}
	if done, _, err := s.Authorize(ctx, &Auth{Type: StageDummy, Session: ch.Session}, req); err != nil || !done {
		t.Fatalf("second stage: done=%v err=%v", done, err)
	}
}
