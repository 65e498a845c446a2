package uia

import (
	"context"
	"encoding/json"
	"testing"
)

func termsRequest() Request {
	return Request{
		Flows:     []Flow{{Stages: []string{StageTerms, StageDummy}}},
		Verifiers: map[string]Verifier{StageTerms: AcceptTerms},
		Params: map[string]any{StageTerms: TermsParams(map[string]Policy{
			"privacy_policy": {Version: "1.0", Lang: "en", Name: "Privacy Policy", URL: "https://hs.example/_matrix/consent?v=1.0"},
		})},
	}
}

func TestTermsParamsShape(t *testing.T) {
	_, ch, err := NewSessions().Authorize(context.Background(), nil, termsRequest())
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(ch.Params)
	if err != nil {
		t.Fatal(err)
	}
	// The spec's example shape, as Synapse sends it.
	want := `{"m.login.terms":{"policies":{"privacy_policy":{"en":{"name":"Privacy Policy","url":"https://hs.example/_matrix/consent?v=1.0"},"version":"1.0"}}}}`
	if string(got) != want {
		t.Fatalf("params\n got %s\nwant %s", got, want)
	}
}

func TestTermsThenDummy(t *testing.T) {
	ctx := context.Background()
	s := NewSessions()
	req := termsRequest()
	_, ch, _ := s.Authorize(ctx, nil, req)

	// The dummy stage cannot come first: the terms must be accepted.
	done, ch2, err := s.Authorize(ctx, &Auth{Type: StageDummy, Session: ch.Session}, req)
	if err != nil || done || ch2.Errcode != "M_FORBIDDEN" || len(ch2.Completed) != 0 {
		t.Fatalf("dummy first: done=%v ch=%+v err=%v", done, ch2, err)
	}
	done, ch3, err := s.Authorize(ctx, &Auth{Type: StageTerms, Session: ch.Session}, req)
	if err != nil || done || len(ch3.Completed) != 1 || ch3.Completed[0] != StageTerms {
		t.Fatalf("terms: done=%v ch=%+v err=%v", done, ch3, err)
	}
	done, _, err = s.Authorize(ctx, &Auth{Type: StageDummy, Session: ch.Session}, req)
	if err != nil || !done {
		t.Fatalf("dummy after terms: done=%v err=%v", done, err)
	}
}
