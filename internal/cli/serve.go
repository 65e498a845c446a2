package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/axonhs/axon/internal/config"
	"github.com/axonhs/axon/internal/server"
)

// zeroConfigPath is where `axon serve` without -c keeps its configuration,
// generated for localhost on first start so a newcomer needs no setup.
const zeroConfigPath = "data/homeserver.yaml"

func runServe(ctx context.Context, env Env, args []string) error {
	fset := newFlagSet("serve", env)
	var configPath string
	stringFlag(fset, &configPath, "", "path to homeserver.yaml", "c", "config-path")
	if _, err := parseArgs(fset, args); err != nil {
		return err
	}
	if configPath == "" {
		if err := ensureZeroConfig(env); err != nil {
			return err
		}
		configPath = zeroConfigPath
	}
	cfg, err := loadConfig(env, configPath)
	if err != nil {
		return err
	}
	return serveConfig(ctx, env, cfg)
}

// ensureZeroConfig generates data/homeserver.yaml for localhost unless it exists.
func ensureZeroConfig(env Env) error {
	if _, err := os.Stat(zeroConfigPath); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("check %s: %w", zeroConfigPath, err)
	}
	fmt.Fprintf(env.Stderr, "No configuration given: generating %s for server name localhost.\n", zeroConfigPath)
	written, err := config.Generate(config.GenerateOptions{
		ServerName: "localhost",
		ConfigPath: zeroConfigPath,
		DataDir:    filepath.Dir(zeroConfigPath),
		KeysDir:    filepath.Dir(zeroConfigPath),
	})
	if err != nil {
		return fmt.Errorf("generate zero-config setup: %w", err)
	}
	for _, f := range written {
		fmt.Fprintf(env.Stderr, "  wrote %s\n", f)
	}
	return nil
}

// loadConfig loads a config, printing its warnings, and fails on errors.
func loadConfig(env Env, path string) (*config.Config, error) {
	cfg, diags, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	for _, d := range diags {
		fmt.Fprintf(env.Stderr, "%s: %s\n", path, d)
	}
	if diags.HasErrors() {
		return nil, fmt.Errorf("%s has errors; run 'axon check-config -c %s' for the full list", path, path)
	}
	return cfg, nil
}

func serveConfig(ctx context.Context, env Env, cfg *config.Config) error {
	if err := config.EnsureRegistrationSecret(cfg); err != nil {
		return err
	}
	log, closeLog, err := newLogger(env, cfg)
	if err != nil {
		return err
	}
	defer closeLog()
	slog.SetDefault(log)
	return server.Run(ctx, cfg, log)
}
