package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
	"maunium.net/go/mautrix/pushrules"

	"github.com/axonhs/axon/internal/server"
	"github.com/axonhs/axon/internal/server/servertest"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

// startWithHandle starts a server like servertest.Start, keeping the
// *server.Server so the test can reach its push service.
func startWithHandle(t *testing.T, engine string) (*server.Server, string) {
	t.Helper()
	cfg := servertest.Config(t, engine)
	cfg.EnableRegistration = true
	cfg.EnableRegistrationWithoutVerification = true
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		cancel()
		t.Fatalf("start server: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server stopped with error: %v", err)
		}
	})
	return srv, "http://" + srv.Addrs()[0][0].(*net.TCPAddr).String()
}

// pushRequest sends a request under /_matrix/client/v3/pushrules and
// returns the status and the raw body.
func pushRequest(t *testing.T, c *mautrix.Client, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.HomeserverURL.String()+"/_matrix/client/v3/pushrules"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, raw
}

func errcodeOf(raw []byte) string {
	var e struct {
		Errcode string `json:"errcode"`
	}
	_ = json.Unmarshal(raw, &e)
	return e.Errcode
}

func TestPushRulesWithAMatrixClient(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv, url := startWithHandle(t, engine)
			alice := register(t, url, "alice", "alice password", "ALICE")
			bob := register(t, url, "bob", "bob password", "BOB")

			// The server-default rules.
			rules, err := bob.GetPushRules(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(rules.Override) == 0 || rules.Override[0].RuleID != ".m.rule.master" || rules.Override[0].Enabled {
				t.Errorf("override rules start with %+v", rules.Override)
			}
			if len(rules.Content) != 1 || rules.Content[0].Pattern != "bob" {
				t.Errorf("content rules: %+v", rules.Content)
			}

			before := syncUntil(t, bob, "", func(*mautrix.RespSync) bool { return true })

			// Create, read, order and delete a rule.
			cake := &mautrix.ReqPutPushRule{Pattern: "cake", Actions: []pushrules.PushActionType{pushrules.ActionNotify}}
			if err := bob.PutPushRule(ctx, "global", pushrules.ContentRule, "cake", cake); err != nil {
				t.Fatal(err)
			}
			pie := &mautrix.ReqPutPushRule{Pattern: "pie", After: "cake", Actions: []pushrules.PushActionType{pushrules.ActionNotify}}
			if err := bob.PutPushRule(ctx, "global", pushrules.ContentRule, "pie", pie); err != nil {
				t.Fatal(err)
			}
			rule, err := bob.GetPushRule(ctx, "global", pushrules.ContentRule, "cake")
			if err != nil || rule.Pattern != "cake" || !rule.Enabled || rule.Default {
				t.Fatalf("cake rule %+v, %v", rule, err)
			}
			rules, _ = bob.GetPushRules(ctx)
			if ids := [3]string{rules.Content[0].RuleID, rules.Content[1].RuleID, rules.Content[2].RuleID}; ids != [3]string{"cake", "pie", ".m.rule.contains_user_name"} {
				t.Errorf("content rule order %v", ids)
			}
			bad := &mautrix.ReqPutPushRule{Pattern: "x", Before: "nope", Actions: []pushrules.PushActionType{pushrules.ActionNotify}}
			if err := bob.PutPushRule(ctx, "global", pushrules.ContentRule, "x", bad); errcode(err) != "M_UNKNOWN" {
				t.Errorf("unknown before rule: %v", err)
			}
			if err := bob.PutPushRule(ctx, "global", pushrules.ContentRule, ".x", cake); errcode(err) != "M_UNKNOWN" {
				t.Errorf("a rule ID with a dot: %v", err)
			}
			if _, err := alice.GetPushRule(ctx, "global", pushrules.ContentRule, "cake"); errcode(err) != "M_NOT_FOUND" {
				t.Errorf("alice sees bob's rule: %v", err)
			}
			if err := bob.DeletePushRule(ctx, "global", pushrules.OverrideRule, ".m.rule.master"); errcode(err) != "M_UNKNOWN" {
				t.Errorf("delete a server-default rule: %v", err)
			}
			if err := bob.DeletePushRule(ctx, "global", pushrules.ContentRule, "pie"); err != nil {
				t.Fatal(err)
			}
			if _, err := bob.GetPushRule(ctx, "global", pushrules.ContentRule, "pie"); errcode(err) != "M_NOT_FOUND" {
				t.Errorf("deleted rule: %v", err)
			}

			// enabled and actions, on a server-default rule.
			if st, raw := pushRequest(t, bob, "PUT", "/global/override/.m.rule.suppress_notices/enabled", map[string]any{"enabled": false}); st != 200 {
				t.Errorf("disable: %d %s", st, raw)
			}
			if st, raw := pushRequest(t, bob, "GET", "/global/override/.m.rule.suppress_notices/enabled", nil); st != 200 || string(raw) != `{"enabled":false}` {
				t.Errorf("enabled: %d %s", st, raw)
			}
			if st, raw := pushRequest(t, bob, "PUT", "/global/underride/.m.rule.message/actions", map[string]any{"actions": []string{"notify"}}); st != 200 {
				t.Errorf("set actions: %d %s", st, raw)
			}
			if st, raw := pushRequest(t, bob, "GET", "/global/underride/.m.rule.message/actions", nil); st != 200 || string(raw) != `{"actions":["notify"]}` {
				t.Errorf("actions: %d %s", st, raw)
			}
			if st, raw := pushRequest(t, bob, "PUT", "/global/underride/.m.rule.message/enabled", map[string]any{"enabled": "yes"}); st != 400 || errcodeOf(raw) != "M_UNKNOWN" {
				t.Errorf("enabled not a boolean: %d %s", st, raw)
			}
			if st, raw := pushRequest(t, bob, "PUT", "/global/underride/.m.rule.nope/enabled", map[string]any{"enabled": true}); st != 404 || errcodeOf(raw) != "M_NOT_FOUND" {
				t.Errorf("unknown default rule: %d %s", st, raw)
			}

			// Paths: lists per kind, bad kinds and scopes, missing slashes.
			if st, raw := pushRequest(t, bob, "GET", "/global/content/", nil); st != 200 || !strings.HasPrefix(string(raw), `[{`) {
				t.Errorf("content list: %d %s", st, raw)
			}
			for path, want := range map[string]string{
				"/global/postcontent/": "M_INVALID_PARAM",
				"/device/content/":     "M_UNRECOGNIZED",
				"":                     "M_UNRECOGNIZED",
				"/global":              "M_UNRECOGNIZED",
				"/global/override":     "M_UNRECOGNIZED",
			} {
				if st, raw := pushRequest(t, bob, "GET", path, nil); st != 400 || errcodeOf(raw) != want {
					t.Errorf("GET /pushrules%s: %d %s, want 400 %s", path, st, raw, want)
				}
			}

			// Each change reaches /sync as the m.push_rules account data.
			syncUntil(t, bob, before.NextBatch, func(r *mautrix.RespSync) bool {
				for _, ev := range r.AccountData.Events {
					if ev.Type != event.AccountDataPushRules {
						continue
					}
					var doc struct {
						Global map[string][]struct {
							RuleID  string          `json:"rule_id"`
							Actions json.RawMessage `json:"actions"`
						} `json:"global"`
					}
					if err := json.Unmarshal(ev.Content.VeryRaw, &doc); err != nil {
						t.Fatalf("m.push_rules: %v", err)
					}
					found := 0
					for _, r := range doc.Global["content"] {
						if r.RuleID == "cake" {
							found++
						}
					}
					for _, r := range doc.Global["underride"] {
						if r.RuleID == ".m.rule.message" && string(r.Actions) == `["notify"]` {
							found++
						}
					}
					if found == 2 {
						return true
					}
				}
				return false
			})

			// A mention counts as a highlight for bob, not for alice.
			created, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "public_chat"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := bob.JoinRoomByID(ctx, created.RoomID); err != nil {
				t.Fatal(err)
			}
			content := map[string]any{"msgtype": "m.text", "body": "hi bob", "m.mentions": map[string]any{"user_ids": []id.UserID{bob.UserID}}}
			if _, err := alice.SendMessageEvent(ctx, created.RoomID, event.EventMessage, content); err != nil {
				t.Fatal(err)
			}
			counts, err := srv.PushService().Counts(ctx, string(bob.UserID), []string{string(created.RoomID)})
			if err != nil {
				t.Fatal(err)
			}
			if got := counts[string(created.RoomID)].Total(); got.NotificationCount != 1 || got.HighlightCount != 1 {
				t.Errorf("bob's counts %+v", got)
			}
			counts, _ = srv.PushService().Counts(ctx, string(alice.UserID), []string{string(created.RoomID)})
			if len(counts) != 0 {
				t.Errorf("alice's counts %+v", counts)
			}
		})
	}
}
