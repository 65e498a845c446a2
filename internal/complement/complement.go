// Package complement readies a FROM-scratch container image to be run by
// Complement, the Matrix conformance suite.
//
// Complement starts the image with SERVER_NAME set (hs1, hs2, ...) and copies
// a CA certificate and key to /complement/ca/ca.crt and ca.key before the
// first start. It may snapshot a started container with `docker commit` and
// start the snapshot again, so everything here must be repeatable: the
// homeserver configuration and signing key are written once and kept, while
// the TLS certificate is issued again on every start (the CA of a later run
// differs from the one the snapshot was made with).
//
// See docs/complement.md.
package complement

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/axonhs/axon/internal/signingkey"
)

// Options say where Prepare finds its inputs and writes its outputs.
// Zero fields take their defaults from the environment.
type Options struct {
	// ServerName is the homeserver's name; default $SERVER_NAME.
	ServerName string
	// DataDir holds the configuration, database, keys and media;
	// default "/data".
	DataDir string
	// CADir holds Complement's ca.crt and ca.key; default "/complement/ca".
	CADir string
}

// Default locations inside the container.
const (
	DefaultDataDir = "/data"
	DefaultCADir   = "/complement/ca"

	// AppServiceDir, beside CADir, is where Complement copies application
	// service registration files (one <id>.yaml each) before the first start.
	AppServiceDir = "appservice"

	// RegistrationSharedSecret is the secret Complement uses with
	// /_synapse/admin/v1/register.
	RegistrationSharedSecret = "complement"
)

// File names under DataDir.
const (
	ConfigFile     = "homeserver.yaml"
	DatabaseFile   = "homeserver.db"
	SigningKeyFile = "signing.key"
	MediaDir       = "media_store"
	TLSDir         = "tls"
	TLSCertFile    = "server.crt"
	TLSKeyFile     = "server.key"
	TmpDir         = "tmp"
)

// Prepare readies the container for a start: it creates DataDir and its
// temporary directory, writes DataDir/homeserver.yaml and a signing key if
// they do not exist yet, and issues a fresh TLS certificate for the server
// name signed by Complement's CA. It returns the configuration's path.
func Prepare(opts Options) (configPath string, err error) {
	opts = opts.withDefaults()
	if opts.ServerName == "" {
		return "", errors.New("complement: SERVER_NAME is not set")
	}
	if strings.ContainsAny(opts.ServerName, " \t\r\n/") {
		return "", fmt.Errorf("complement: invalid server name %q", opts.ServerName)
	}

	dirs := []string{
		opts.DataDir,
		filepath.Join(opts.DataDir, TmpDir),
		filepath.Join(opts.DataDir, MediaDir),
		filepath.Join(opts.DataDir, TLSDir),
	}
	if t := os.Getenv("TMPDIR"); t != "" {
		dirs = append(dirs, t)
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", fmt.Errorf("complement: %w", err)
		}
	}

	configPath = filepath.Join(opts.DataDir, ConfigFile)
	keyPath := filepath.Join(opts.DataDir, SigningKeyFile)

	if _, err := os.Stat(keyPath); errors.Is(err, os.ErrNotExist) {
		if err := writeSigningKey(keyPath); err != nil {
			return "", err
		}
	} else if err != nil {
		return "", fmt.Errorf("complement: %w", err)
	}

	existing, err := os.ReadFile(configPath)
	switch {
	case err == nil:
		if name := serverNameOf(existing); name != "" && name != opts.ServerName {
			return "", fmt.Errorf("complement: %s was written for server %q, but SERVER_NAME is %q",
				configPath, name, opts.ServerName)
		}
	case errors.Is(err, os.ErrNotExist):
		secret, err := randomToken(32)
		if err != nil {
			return "", err
		}
		formSecret, err := randomToken(32)
		if err != nil {
			return "", err
		}
		cfg := renderConfig(opts, secret, formSecret, appServiceFiles(filepath.Join(filepath.Dir(opts.CADir), AppServiceDir)))
		if err := writeFileAtomic(configPath, []byte(cfg), 0o600); err != nil {
			return "", err
		}
	default:
		return "", fmt.Errorf("complement: %w", err)
	}

	if err := issueCertificate(opts); err != nil {
		return "", err
	}
	return configPath, nil
}

func (o Options) withDefaults() Options {
	if o.ServerName == "" {
		o.ServerName = os.Getenv("SERVER_NAME")
	}
	if o.DataDir == "" {
		o.DataDir = DefaultDataDir
	}
	if o.CADir == "" {
		o.CADir = DefaultCADir
	}
	return o
}

// q renders s as a YAML double-quoted scalar (a JSON string is one).
func q(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// rateLimit is a Synapse rate-limit block with no practical limit.
func rateLimit(indent string) string {
	return indent + "per_second: 9999\n" + indent + "burst_count: 9999\n"
}

func renderConfig(opts Options, macaroonSecret, formSecret string, appServices []string) string {
	d := opts.DataDir
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	w("# Written by axon for Complement on first start; kept on later starts.\n")
	w("server_name: %s\n", q(opts.ServerName))
	w("report_stats: false\n")
	w("signing_key_path: %s\n", q(filepath.Join(d, SigningKeyFile)))
	w("tls_certificate_path: %s\n", q(filepath.Join(d, TLSDir, TLSCertFile)))
	w("tls_private_key_path: %s\n", q(filepath.Join(d, TLSDir, TLSKeyFile)))
	w("media_store_path: %s\n", q(filepath.Join(d, MediaDir)))
	w("\n")
	w("listeners:\n")
	w("  - port: 8008\n")
	w("    tls: false\n")
	w("    type: http\n")
	w("    x_forwarded: false\n")
	w("    bind_addresses: ['0.0.0.0']\n")
	w("    resources:\n")
	w("      - names: [client, federation, keys, media]\n")
	w("        compress: false\n")
	w("  - port: 8448\n")
	w("    tls: true\n")
	w("    type: http\n")
	w("    x_forwarded: false\n")
	w("    bind_addresses: ['0.0.0.0']\n")
	w("    resources:\n")
	w("      - names: [federation, keys]\n")
	w("        compress: false\n")
	w("\n")
	w("database:\n")
	w("  name: sqlite3\n")
	w("  args:\n")
	w("    database: %s\n", q(filepath.Join(d, DatabaseFile)))
	w("\n")
	w("registration_shared_secret: %s\n", q(RegistrationSharedSecret))
	w("enable_registration: true\n")
	w("enable_registration_without_verification: true\n")
	w("macaroon_secret_key: %s\n", q(macaroonSecret))
	w("form_secret: %s\n", q(formSecret))
	w("bcrypt_rounds: 4\n")
	w("\n")
	w("# Complement's servers live on private addresses.\n")
	w("trusted_key_servers: []\n")
	w("federation_ip_range_blacklist: []\n")
	w("ip_range_blacklist: []\n")
	w("federation_custom_ca_list:\n")
	w("  - %s\n", q(filepath.Join(opts.CADir, "ca.crt")))
	w("allow_device_name_lookup_over_federation: true\n")
	w("federation_rr_transactions_per_room_per_second: 9999\n")
	w("\n")
	w("# Rate limits off.\n")
	for _, k := range []string{"rc_message", "rc_registration", "rc_registration_token_validity", "rc_admin_redaction",
		"rc_joins_per_room", "rc_3pid_validation", "rc_delayed_event_mgmt"} {
		w("%s:\n%s", k, rateLimit("  "))
	}
	w("rc_login:\n")
	for _, k := range []string{"address", "account", "failed_attempts"} {
		w("  %s:\n%s", k, rateLimit("    "))
	}
	w("rc_joins:\n")
	for _, k := range []string{"local", "remote"} {
		w("  %s:\n%s", k, rateLimit("    "))
	}
	w("rc_invites:\n")
	for _, k := range []string{"per_room", "per_user", "per_issuer"} {
		w("  %s:\n%s", k, rateLimit("    "))
	}
	w("rc_presence:\n  per_user:\n%s", rateLimit("    "))
	w("rc_federation:\n")
	w("  window_size: 1000\n  sleep_limit: 10\n  sleep_delay: 500\n  reject_limit: 99999\n  concurrent: 3\n")
	if len(appServices) > 0 {
		w("\n")
		w("app_service_config_files:\n")
		for _, f := range appServices {
			w("  - %s\n", q(f))
		}
	}
	return b.String()
}

// serverNameOf finds the server_name line of a configuration this package
// wrote; "" if there is none.
func serverNameOf(cfg []byte) string {
	for _, line := range strings.Split(string(cfg), "\n") {
		rest, ok := strings.CutPrefix(line, "server_name:")
		if !ok {
			continue
		}
		rest = strings.TrimSpace(rest)
		var s string
		if json.Unmarshal([]byte(rest), &s) == nil {
			return s
		}
		return strings.Trim(rest, `'"`)
	}
	return ""
}

func appServiceFiles(dir string) []string {
	var out []string
	for _, pat := range []string{"*.yaml", "*.yml"} {
		m, _ := filepath.Glob(filepath.Join(dir, pat))
		out = append(out, m...)
	}
	sort.Strings(out)
	return out
}

// writeSigningKey writes a new ed25519 key in Synapse's format:
// "ed25519 <key id> <unpadded base64 of the 32-byte seed>".
func writeSigningKey(path string) error {
	k, err := signingkey.Generate()
	if err != nil {
		return fmt.Errorf("complement: signing key: %w", err)
	}
	if err := signingkey.WriteNew(path, k); err != nil {
		return fmt.Errorf("complement: %w", err)
	}
	return nil
}

func randomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("complement: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// issueCertificate writes DataDir/tls/server.crt and server.key: a fresh
// ECDSA P-256 key and a certificate for the server name, localhost,
// 127.0.0.1 and ::1, signed by CADir/ca.crt with CADir/ca.key.
func issueCertificate(opts Options) error {
	caCert, caKey, err := loadCA(opts.CADir)
	if err != nil {
		return err
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("complement: tls key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return fmt.Errorf("complement: %w", err)
	}

	host := opts.ServerName
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	dnsNames := []string{"localhost"}
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	if ip := net.ParseIP(host); ip != nil {
		ips = append(ips, ip)
	} else if host != "localhost" {
		dnsNames = append([]string{host}, dnsNames...)
	}

	now := time.Now()
	notAfter := now.Add(365 * 24 * time.Hour)
	if caCert.NotAfter.Before(notAfter) {
		notAfter = caCert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: host, Organization: []string{"Axon Complement"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		DNSNames:              dnsNames,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("complement: signing TLS certificate with %s: %w", opts.CADir, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("complement: %w", err)
	}

	dir := filepath.Join(opts.DataDir, TLSDir)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := writeFileAtomic(filepath.Join(dir, TLSKeyFile), keyPEM, 0o600); err != nil {
		return err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return writeFileAtomic(filepath.Join(dir, TLSCertFile), certPEM, 0o644)
}

// loadCA reads ca.crt and ca.key (PEM; the key RSA or ECDSA in PKCS#1,
// SEC 1 or PKCS#8 form) and checks that they belong together.
func loadCA(dir string) (*x509.Certificate, crypto.Signer, error) {
	certPath := filepath.Join(dir, "ca.crt")
	keyPath := filepath.Join(dir, "ca.key")
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, nil, fmt.Errorf("complement: CA certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, fmt.Errorf("complement: CA key: %w", err)
	}

	var cert *x509.Certificate
	for rest := certPEM; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type == "CERTIFICATE" {
			if cert, err = x509.ParseCertificate(blk.Bytes); err != nil {
				return nil, nil, fmt.Errorf("complement: %s: %w", certPath, err)
			}
			break
		}
	}
	if cert == nil {
		return nil, nil, fmt.Errorf("complement: %s: no PEM CERTIFICATE block", certPath)
	}

	key, err := parsePrivateKey(keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("complement: %s: %w", keyPath, err)
	}
	if pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(cert.PublicKey) {
		return nil, nil, fmt.Errorf("complement: %s does not match %s", keyPath, certPath)
	}
	return cert, key, nil
}

func parsePrivateKey(data []byte) (crypto.Signer, error) {
	for rest := data; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return nil, errors.New("no PEM private key block")
		}
		switch blk.Type {
		case "RSA PRIVATE KEY":
			return x509.ParsePKCS1PrivateKey(blk.Bytes)
		case "EC PRIVATE KEY":
			return x509.ParseECPrivateKey(blk.Bytes)
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
			if err != nil {
				return nil, err
			}
			switch k := k.(type) {
			case *rsa.PrivateKey:
				return k, nil
			case *ecdsa.PrivateKey:
				return k, nil
			case ed25519.PrivateKey:
				return k, nil
			default:
				return nil, fmt.Errorf("unsupported PKCS#8 key type %T", k)
			}
		}
		// Skip other blocks, e.g. "EC PARAMETERS".
	}
}

// writeFileAtomic writes data to a temporary file beside path and renames
// it over path, so a crash never leaves a half-written file.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("complement: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("complement: writing %s: %w", path, err)
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("complement: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("complement: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("complement: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("complement: %w", err)
	}
	return nil
}
