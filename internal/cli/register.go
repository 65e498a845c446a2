package cli

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/axonhs/axon/internal/config"
	"github.com/axonhs/axon/internal/httpapi/adminapi"
)

type registerOptions struct {
	user, password, passwordFile, userType, configPath, secret string
	admin, noAdmin, existsOK                                   bool
}

const defaultServerURL = "http://localhost:8008"

// runRegister creates a user through /_synapse/admin/v1/register, with the
// flags, prompts and messages of Synapse's register_new_matrix_user.
func runRegister(ctx context.Context, env Env, args []string) error {
	fset := newFlagSet("register_new_matrix_user", env)
	var o registerOptions
	stringFlag(fset, &o.user, "", "local part of the new user; prompted for when omitted", "u", "user")
	stringFlag(fset, &o.password, "", "new password for the user; prompted for when omitted", "p", "password")
	stringFlag(fset, &o.passwordFile, "", "file containing the new password (overrides -p)", "password-file")
	stringFlag(fset, &o.userType, "", "user type, e.g. bot or support", "t", "user_type")
	stringFlag(fset, &o.configPath, "", "homeserver.yaml holding registration_shared_secret", "c", "config")
	stringFlag(fset, &o.secret, "", "the registration shared secret", "k", "shared-secret")
	boolFlag(fset, &o.admin, "make the new user a server admin", "a", "admin")
	boolFlag(fset, &o.noAdmin, "make the new user a regular user", "no-admin")
	boolFlag(fset, &o.existsOK, "succeed if the user already exists", "exists-ok")
	fset.Usage = func() {
		fmt.Fprintln(env.Stderr, "usage: register_new_matrix_user [-u USER] [-p PASSWORD | --password-file FILE] [-t USER_TYPE] [-a | --no-admin] [--exists-ok] (-c CONFIG | -k SHARED_SECRET) [server_url]")
		fset.PrintDefaults()
	}
	positional, err := parseArgs(fset, args)
	if err != nil {
		return err
	}
	if len(positional) > 1 {
		return fmt.Errorf("%w: at most one server URL, got %q", errUsage, positional)
	}
	if o.admin && o.noAdmin {
		return fmt.Errorf("%w: -a/--admin and --no-admin cannot be used together", errUsage)
	}
	if (o.configPath == "") == (o.secret == "") {
		return fmt.Errorf("%w: exactly one of -c/--config and -k/--shared-secret is required", errUsage)
	}

	if o.passwordFile != "" {
		pw, err := os.ReadFile(o.passwordFile)
		if err != nil {
			return fmt.Errorf("read --password-file: %w", err)
		}
		o.password = strings.TrimSpace(string(pw))
	}

	serverURL := ""
	if len(positional) == 1 {
		serverURL = positional[0]
	}
	if o.configPath != "" {
		cfg, _, err := config.Load(o.configPath)
		if err != nil {
			return err
		}
		if cfg.RegistrationSharedSecret == "" {
			return errors.New("no 'registration_shared_secret' or 'registration_shared_secret_path' defined in config")
		}
		o.secret = cfg.RegistrationSharedSecret
		if serverURL == "" {
			if serverURL = clientListenerURL(cfg); serverURL == "" {
				serverURL = defaultServerURL
				fmt.Fprintf(env.Stderr, "Unable to find a suitable HTTP listener in the configuration file. Trying %s as a last resort.\n", serverURL)
			}
		}
	}
	if serverURL == "" {
		serverURL = defaultServerURL
		fmt.Fprintf(env.Stderr, "No server url or configuration file given. Defaulting to %s.\n", serverURL)
	}
	if err := o.prompt(env); err != nil {
		return err
	}
	return requestRegistration(ctx, env, serverURL, o)
}

// clientListenerURL finds a plain-HTTP listener serving the client API, as
// Synapse's script does, and returns its localhost URL.
func clientListenerURL(cfg *config.Config) string {
	for _, l := range cfg.Listeners {
		if l.Type != "http" || l.TLS {
			continue
		}
		for _, r := range l.Resources {
			for _, name := range r.Names {
				if name == "client" {
					return "http://localhost:" + strconv.Itoa(l.Port)
				}
			}
		}
	}
	return ""
}

// prompt asks for whatever the flags left out.
func (o *registerOptions) prompt(env Env) error {
	p := newPrompter(env)
	if o.user == "" {
		def := ""
		if u, err := user.Current(); err == nil {
			def = u.Username
		}
		answer, err := p.ask(fmt.Sprintf("New user localpart [%s]: ", def))
		if err != nil {
			return err
		}
		if o.user = answer; o.user == "" {
			o.user = def
		}
		if o.user == "" {
			return errors.New("user localpart cannot be blank")
		}
	}
	if o.password == "" {
		pw, err := p.askNewPassword()
		if err != nil {
			return err
		}
		o.password = pw
	}
	if !o.admin && !o.noAdmin {
		answer, err := p.ask("Make admin [no]: ")
		if err != nil {
			return err
		}
		switch strings.ToLower(strings.TrimSpace(answer)) {
		case "y", "yes", "true":
			o.admin = true
		}
	}
	return nil
}

func requestRegistration(ctx context.Context, env Env, serverURL string, o registerOptions) error {
	url := strings.TrimRight(serverURL, "/") + "/_synapse/admin/v1/register"
	client := &http.Client{Timeout: 30 * time.Second}

	var nonce struct {
		Nonce string `json:"nonce"`
	}
	if err := doJSON(ctx, client, http.MethodGet, url, nil, &nonce); err != nil {
		return err
	}
	mac := adminapi.MAC([]byte(o.secret), nonce.Nonce, o.user, o.password, o.admin, o.userType)
	body := map[string]any{
		"nonce":    nonce.Nonce,
		"username": o.user,
		"password": o.password,
		"mac":      hex.EncodeToString(mac),
		"admin":    o.admin,
	}
	if o.userType != "" {
		body["user_type"] = o.userType
	}
	fmt.Fprintln(env.Stdout, "Sending registration request...")
	err := doJSON(ctx, client, http.MethodPost, url, body, nil)
	var apiErr *remoteError
	if o.existsOK && errors.As(err, &apiErr) && apiErr.Code == "M_USER_IN_USE" {
		fmt.Fprintln(env.Stdout, "User already exists. Skipping.")
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, "Success!")
	return nil
}

// remoteError is a Matrix error answered by the server.
type remoteError struct {
	Status  int
	Code    string `json:"errcode"`
	Message string `json:"error"`
}

func (e *remoteError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("ERROR! Received %d %s", e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("ERROR! Received %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

func doJSON(ctx context.Context, client *http.Client, method, url string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return fmt.Errorf("bad server URL: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read response: %w", method, url, err)
	}
	if resp.StatusCode != http.StatusOK {
		apiErr := &remoteError{Status: resp.StatusCode}
		_ = json.Unmarshal(data, apiErr)
		return apiErr
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: response is not the expected JSON: %w", method, url, err)
	}
	return nil
}
