package password

import (
	"strings"
	"testing"
)

// synapseHash was produced by Python's bcrypt as Synapse calls it:
// bcrypt.hashpw(b"correct horse" + b"pepper!", bcrypt.gensalt(4)).
const synapseHash = "$2b$04$yLNX4ME5/EWNEK3dnsOqX.755mp/wyIbDr/tUk4rm.SAOzl2oC/7q"

func TestCheckSynapseHash(t *testing.T) {
	h := Hasher{Pepper: "pepper!"}
	ok, err := h.Check(synapseHash, "correct horse")
	if err != nil || !ok {
		t.Fatalf("Check(synapse hash) = %v, %v; want true", ok, err)
	}
	if ok, _ := h.Check(synapseHash, "wrong"); ok {
		t.Fatal("wrong password accepted")
	}
	if ok, _ := (Hasher{}).Check(synapseHash, "correct horse"); ok {
		t.Fatal("password accepted without its pepper")
	}
}

func TestHashRoundTrip(t *testing.T) {
	h := Hasher{Rounds: 4, Pepper: "p"}
	hash, err := h.Hash("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$2b$04$") {
		t.Fatalf("hash %q does not use Synapse's $2b$ prefix and cost", hash)
	}
	if ok, err := h.Check(hash, "s3cret"); !ok || err != nil {
		t.Fatalf("Check = %v, %v", ok, err)
	}
}

func TestLongPasswordsTruncateLikePythonBcrypt(t *testing.T) {
	h := Hasher{Rounds: 4}
	long := strings.Repeat("x", 100)
	hash, err := h.Hash(long)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := h.Check(hash, long[:72]+"different tail"); !ok {
		t.Fatal("bytes past 72 should be ignored, as Python's bcrypt did")
	}
}

func TestRejectsBadRounds(t *testing.T) {
	if _, err := (Hasher{Rounds: 99}).Hash("x"); err == nil {
		t.Fatal("rounds 99 accepted")
	}
}

func TestMalformedHash(t *testing.T) {
	if _, err := (Hasher{}).Check("not-a-hash", "x"); err == nil {
		t.Fatal("malformed hash gave no error")
	}
}
