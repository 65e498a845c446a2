package cli

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/axonhs/axon/internal/config"
	"github.com/axonhs/axon/internal/password"
)

// runHashPassword prints a hash for a password, as Synapse's hash_password
// does: bcrypt_rounds and password_config.pepper come from -c, the password
// from -p, a line of piped input, or a double prompt.
func runHashPassword(_ context.Context, env Env, args []string) error {
	fset := newFlagSet("hash-password", env)
	var configPath, pw string
	stringFlag(fset, &configPath, "", "homeserver.yaml to read bcrypt_rounds and password_config.pepper from", "c", "config")
	stringFlag(fset, &pw, "", "the password; prompted for when omitted", "p", "password")
	if _, err := parseArgs(fset, args); err != nil {
		return err
	}
	hasher := password.Hasher{Rounds: password.DefaultRounds}
	if configPath != "" {
		cfg, _, err := config.Load(configPath)
		if err != nil {
			return err
		}
		hasher = password.Hasher{Rounds: cfg.BcryptRounds, Pepper: cfg.Password.Pepper}
	}
	if pw == "" {
		var err error
		if pw, err = readPassword(env); err != nil {
			return err
		}
	}
	hash, err := hasher.Hash(pw)
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, hash)
	return nil
}

// readPassword reads one line when input is piped and prompts otherwise.
func readPassword(env Env) (string, error) {
	p := newPrompter(env)
	if f, ok := env.Stdin.(*os.File); ok && isTerminal(f) {
		return p.askNewPassword()
	}
	line, err := p.in.ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	pw := strings.TrimSpace(line)
	if pw == "" {
		return "", fmt.Errorf("password cannot be blank")
	}
	return pw, nil
}
