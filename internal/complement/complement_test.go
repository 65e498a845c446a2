package complement

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/axonhs/axon/internal/signingkey"
)

// writeCA creates a CA in dir/ca.crt and dir/ca.key, the key PEM-encoded as
// keyForm ("pkcs1", "pkcs8" or "ec").
func writeCA(t *testing.T, dir string, key crypto.Signer, keyForm string) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(48 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	var blk *pem.Block
	switch keyForm {
	case "pkcs1":
		blk = &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key.(*rsa.PrivateKey))}
	case "ec":
		b, err := x509.MarshalECPrivateKey(key.(*ecdsa.PrivateKey))
		if err != nil {
			t.Fatal(err)
		}
		blk = &pem.Block{Type: "EC PRIVATE KEY", Bytes: b}
	case "pkcs8":
		b, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		blk = &pem.Block{Type: "PRIVATE KEY", Bytes: b}
	default:
		t.Fatalf("unknown key form %q", keyForm)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.key"), pem.EncodeToMemory(blk), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert
}

func rsaKey(t *testing.T) crypto.Signer {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ecKey(t *testing.T) crypto.Signer {
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// checkCert verifies DataDir/tls against the CA for the given names and
// returns the leaf certificate.
func checkCert(t *testing.T, dataDir string, ca *x509.Certificate, serverName string) *x509.Certificate {
	t.Helper()
	certFile := filepath.Join(dataDir, "tls", "server.crt")
	keyFile := filepath.Join(dataDir, "tls", "server.key")
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatalf("certificate and key do not load as a pair: %v", err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, name := range []string{serverName, "localhost", "127.0.0.1", "::1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots}); err != nil {
			t.Errorf("certificate does not verify for %q: %v", name, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "other.example", Roots: roots}); err == nil {
		t.Errorf("certificate verifies for a name it should not cover")
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("key file mode = %v, %v; want private", fi.Mode(), err)
	}
	return leaf
}

func TestPrepare(t *testing.T) {
	for _, tc := range []struct {
		name, form string
		key        func(*testing.T) crypto.Signer
	}{
		{"rsa-pkcs1", "pkcs1", rsaKey},
		{"rsa-pkcs8", "pkcs8", rsaKey},
		{"ecdsa-sec1", "ec", ecKey},
		{"ecdsa-pkcs8", "pkcs8", ecKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			caDir := filepath.Join(root, "complement", "ca")
			dataDir := filepath.Join(root, "data")
			ca := writeCA(t, caDir, tc.key(t), tc.form)
			opts := Options{ServerName: "hs1", DataDir: dataDir, CADir: caDir}

			path, err := Prepare(opts)
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(dataDir, "homeserver.yaml"); path != want {
				t.Errorf("config path = %q, want %q", path, want)
			}
			first, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			leaf1 := checkCert(t, dataDir, ca, "hs1")
			key1, err := os.ReadFile(filepath.Join(dataDir, "signing.key"))
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range []string{"tmp", "media_store"} {
				if fi, err := os.Stat(filepath.Join(dataDir, d)); err != nil || !fi.IsDir() {
					t.Errorf("%s not created: %v", d, err)
				}
			}

			// Second start: config and signing key kept, certificate reissued.
			if _, err := Prepare(opts); err != nil {
				t.Fatal(err)
			}
			second, _ := os.ReadFile(path)
			if !bytes.Equal(first, second) {
				t.Error("config rewritten on second start")
			}
			key2, _ := os.ReadFile(filepath.Join(dataDir, "signing.key"))
			if !bytes.Equal(key1, key2) {
				t.Error("signing key rewritten on second start")
			}
			leaf2 := checkCert(t, dataDir, ca, "hs1")
			if leaf1.SerialNumber.Cmp(leaf2.SerialNumber) == 0 {
				t.Error("certificate not reissued on second start")
			}
		})
	}
}

// A snapshot restarted under a new CA (a later Complement run) gets a
// certificate from the new CA.
func TestPrepareNewCA(t *testing.T) {
	root := t.TempDir()
	caDir := filepath.Join(root, "ca")
	dataDir := filepath.Join(root, "data")
	opts := Options{ServerName: "hs2", DataDir: dataDir, CADir: caDir}
	writeCA(t, caDir, rsaKey(t), "pkcs1")
	if _, err := Prepare(opts); err != nil {
		t.Fatal(err)
	}
	ca2 := writeCA(t, caDir, ecKey(t), "ec")
	if _, err := Prepare(opts); err != nil {
		t.Fatal(err)
	}
	checkCert(t, dataDir, ca2, "hs2")
}

func TestPrepareConfig(t *testing.T) {
	root := t.TempDir()
	caDir := filepath.Join(root, "complement", "ca")
	asDir := filepath.Join(root, "complement", "appservice")
	dataDir := filepath.Join(root, "data")
	writeCA(t, caDir, ecKey(t), "ec")
	if err := os.MkdirAll(asDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(asDir, "my_as.yaml"), []byte("id: my_as\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SERVER_NAME", "hs1")
	t.Setenv("TMPDIR", filepath.Join(dataDir, "tmp"))
	path, err := Prepare(Options{DataDir: dataDir, CADir: caDir})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(raw)
	for _, want := range []string{
		`server_name: "hs1"`,
		"report_stats: false",
		"  - port: 8008\n    tls: false\n    type: http\n",
		"      - names: [client, federation, keys, media]\n",
		"  - port: 8448\n    tls: true\n    type: http\n",
		"      - names: [federation, keys]\n",
		"database:\n  name: sqlite3\n  args:\n    database: " + q(filepath.Join(dataDir, "homeserver.db")) + "\n",
		"signing_key_path: " + q(filepath.Join(dataDir, "signing.key")),
		"tls_certificate_path: " + q(filepath.Join(dataDir, "tls", "server.crt")),
		"tls_private_key_path: " + q(filepath.Join(dataDir, "tls", "server.key")),
		"media_store_path: " + q(filepath.Join(dataDir, "media_store")),
		`registration_shared_secret: "complement"`,
		"enable_registration: true\n",
		"enable_registration_without_verification: true\n",
		"trusted_key_servers: []\n",
		"federation_ip_range_blacklist: []\n",
		"ip_range_blacklist: []\n",
		"rc_message:\n  per_second: 9999\n",
		"rc_login:\n  address:\n    per_second: 9999\n",
		"app_service_config_files:\n  - " + q(filepath.Join(asDir, "my_as.yaml")) + "\n",
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config lacks %q", want)
		}
	}
	if strings.Contains(cfg, "pid_file") {
		t.Error("config sets pid_file")
	}
	if strings.Contains(cfg, "\t") {
		t.Error("config contains a tab")
	}

	// Signing key: "ed25519 a_XXXX <unpadded base64 seed>".
	key, err := os.ReadFile(filepath.Join(dataDir, "signing.key"))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(key))
	if len(f) != 3 || f[0] != "ed25519" || !strings.HasPrefix(f[1], "a_") || len(f[1]) != 6 {
		t.Fatalf("signing key = %q", key)
	}
	if seed, err := base64.RawStdEncoding.DecodeString(f[2]); err != nil || len(seed) != 32 {
		t.Errorf("signing key seed: %d bytes, %v", len(seed), err)
	}
	if keys, err := signingkey.Read(filepath.Join(dataDir, "signing.key")); err != nil || len(keys) != 1 {
		t.Errorf("signingkey.Read: %d keys, %v", len(keys), err)
	}

	// A kept config for another server name is refused.
	if _, err := Prepare(Options{ServerName: "hs9", DataDir: dataDir, CADir: caDir}); err == nil {
		t.Error("Prepare accepted a config written for another server name")
	}
}

func TestPrepareErrors(t *testing.T) {
	root := t.TempDir()
	t.Setenv("SERVER_NAME", "")
	if _, err := Prepare(Options{DataDir: filepath.Join(root, "a"), CADir: root}); err == nil {
		t.Error("no error without a server name")
	}
	if _, err := Prepare(Options{ServerName: "hs1", DataDir: filepath.Join(root, "b"), CADir: filepath.Join(root, "missing")}); err == nil {
		t.Error("no error without a CA")
	}
	// Key that does not belong to the certificate.
	caDir := filepath.Join(root, "ca")
	writeCA(t, caDir, ecKey(t), "ec")
	other := filepath.Join(root, "other")
	writeCA(t, other, ecKey(t), "ec")
	k, _ := os.ReadFile(filepath.Join(other, "ca.key"))
	os.WriteFile(filepath.Join(caDir, "ca.key"), k, 0o600)
	if _, err := Prepare(Options{ServerName: "hs1", DataDir: filepath.Join(root, "c"), CADir: caDir}); err == nil {
		t.Error("no error with a mismatched CA key")
	}
}

func TestIPServerName(t *testing.T) {
	root := t.TempDir()
	caDir := filepath.Join(root, "ca")
	ca := writeCA(t, caDir, ecKey(t), "pkcs8")
	dataDir := filepath.Join(root, "data")
	if _, err := Prepare(Options{ServerName: "10.1.2.3:8448", DataDir: dataDir, CADir: caDir}); err != nil {
		t.Fatal(err)
	}
	leaf := checkCert(t, dataDir, ca, "10.1.2.3")
	if len(leaf.IPAddresses) != 3 || !leaf.IPAddresses[2].Equal(net.ParseIP("10.1.2.3")) {
		t.Errorf("IP SANs = %v", leaf.IPAddresses)
	}
}
