package main_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/axonhs/axon/internal/httpapi/adminapi"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

// TestAcknowledgedEventsSurviveKill9 sends messages from concurrent
// senders into two rooms, kills the server with SIGKILL mid-burst,
// restarts it, and checks that every event that got a 200 is in the room
// and that the rooms still accept events.
func TestAcknowledgedEventsSurviveKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	bin := buildAxon(t)
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			cfgPath, base := writeConfig(t, storagetest.NewOptions(t, engine))
			srv := startAxon(t, bin, cfgPath, base)
			token := registerToken(t, base, "sender")
			rooms := []string{createRoom(t, base, token), createRoom(t, base, token)}

			acked := sendUntilKilled(t, base, token, rooms, srv.Process)
			srv = startAxon(t, bin, cfgPath, base)
			defer stopAxon(t, srv)

			total := 0
			for _, room := range rooms {
				stored := roomEventIDs(t, base, token, room)
				for _, id := range acked[room] {
					if !stored[id] {
						t.Errorf("acknowledged event %s lost after kill -9", id)
					}
				}
				total += len(acked[room])
				if status, _ := sendMessage(base, token, room, "after-restart"); status != 200 {
					t.Errorf("room %s refuses events after the restart: %d", room, status)
				}
			}
			if total == 0 {
				t.Fatal("no event was acknowledged before the kill")
			}
			t.Logf("%d acknowledged events all survived kill -9", total)
		})
	}
}

func sendUntilKilled(t *testing.T, base, token string, rooms []string, proc interface{ Signal(os.Signal) error }) map[string][]string {
	t.Helper()
	const perRoom = 4
	var (
		mu     sync.Mutex
		acked  = map[string][]string{}
		count  int
		killed = make(chan struct{})
		wg     sync.WaitGroup
	)
	for _, room := range rooms {
		for w := range perRoom {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-killed:
						return
					default:
					}
					status, eventID := sendMessage(base, token, room, fmt.Sprintf("w%d-%d", w, i))
					if status == 200 {
						mu.Lock()
						acked[room] = append(acked[room], eventID)
						count++
						mu.Unlock()
					}
				}
			}()
		}
	}
	for deadline := time.Now().Add(time.Minute); ; {
		mu.Lock()
		n := count
		mu.Unlock()
		if n >= 200 {
			break
		}
		if time.Now().After(deadline) {
			close(killed)
			wg.Wait()
			t.Fatalf("only %d sends acknowledged in a minute", n)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := proc.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	close(killed)
	wg.Wait()
	return acked
}

var txnCounter struct {
	sync.Mutex
	n int
}

func sendMessage(base, token, room, body string) (int, string) {
	txnCounter.Lock()
	txnCounter.n++
	txn := fmt.Sprintf("t%d", txnCounter.n)
	txnCounter.Unlock()
	b, _ := json.Marshal(map[string]string{"msgtype": "m.text", "body": body})
	u := fmt.Sprintf("%s/_matrix/client/v3/rooms/%s/send/m.room.message/%s", base, url.PathEscape(room), txn)
	status, out := call("PUT", u, token, b)
	id, _ := out["event_id"].(string)
	return status, id
}

func createRoom(t *testing.T, base, token string) string {
	t.Helper()
	status, out := call("POST", base+"/_matrix/client/v3/createRoom", token, []byte(`{}`))
	roomID, _ := out["room_id"].(string)
	if status != 200 || roomID == "" {
		t.Fatalf("createRoom: %d %v", status, out)
	}
	return roomID
}

// roomEventIDs pages through the whole room.
func roomEventIDs(t *testing.T, base, token, room string) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	from := ""
	for range 1000 {
		q := url.Values{"dir": {"b"}, "limit": {"500"}}
		if from != "" {
			q.Set("from", from)
		}
		status, out := call("GET", fmt.Sprintf("%s/_matrix/client/v3/rooms/%s/messages?%s", base, url.PathEscape(room), q.Encode()), token, nil)
		if status != 200 {
			t.Fatalf("messages: %d %v", status, out)
		}
		chunk, _ := out["chunk"].([]any)
		for _, ev := range chunk {
			ids[ev.(map[string]any)["event_id"].(string)] = true
		}
		end, ok := out["end"].(string)
		if !ok || len(chunk) == 0 {
			return ids
		}
		from = end
	}
	t.Fatal("pagination did not end")
	return nil
}

func registerToken(t *testing.T, base, name string) string {
	t.Helper()
	_, out := call("GET", base+"/_synapse/admin/v1/register", "", nil)
	nonce, _ := out["nonce"].(string)
	body, _ := json.Marshal(map[string]any{
		"nonce": nonce, "username": name, "password": "pw", "admin": false,
		"mac": hex.EncodeToString(adminapi.MAC([]byte(secret), nonce, name, "pw", false, "")),
	})
	status, out := call("POST", base+"/_synapse/admin/v1/register", "", body)
	token, _ := out["access_token"].(string)
	if status != 200 || token == "" {
		t.Fatalf("register %s: %d %v", name, status, out)
	}
	return token
}

func call(method, u, token string, body []byte) (int, map[string]any) {
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		return 0, nil
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}
