package uia

import (
	"errors"
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
