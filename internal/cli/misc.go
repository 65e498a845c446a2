package cli

import (
	"context"
	"fmt"

	"github.com/axonhs/axon/internal/complement"
	"github.com/axonhs/axon/internal/version"
)

func runVersion(_ context.Context, env Env, _ []string) error {
	fmt.Fprintln(env.Stdout, "axon", version.String())
	return nil
}

// runComplement is the entry point of the Complement test image: it prepares
// the container's config and certificate, then serves.
func runComplement(ctx context.Context, env Env, _ []string) error {
	path, err := complement.Prepare(complement.Options{})
	if err != nil {
		return fmt.Errorf("prepare complement container: %w", err)
	}
	cfg, err := loadConfig(env, path)
	if err != nil {
		return err
	}
	return serveConfig(ctx, env, cfg)
}
