package cli

import (
	"context"
	"fmt"

	"github.com/axonhs/axon/internal/config"
)

// runCheckConfig prints every problem in a homeserver.yaml and fails when
// any would stop the server from starting.
func runCheckConfig(_ context.Context, env Env, args []string) error {
	fset := newFlagSet("check-config", env)
	var configPath string
	stringFlag(fset, &configPath, "homeserver.yaml", "path to homeserver.yaml", "c", "config-path")
	positional, err := parseArgs(fset, args)
	if err != nil {
		return err
	}
	if len(positional) == 1 {
		configPath = positional[0]
	}
	_, diags, err := config.Load(configPath)
	if err != nil {
		return err
	}
	errorsFound := 0
	for _, d := range diags {
		fmt.Fprintf(env.Stdout, "%s: %s\n", configPath, d)
		if d.Severity == config.Error {
			errorsFound++
		}
	}
	fmt.Fprintf(env.Stdout, "%s: %d error(s), %d warning(s)\n", configPath, errorsFound, len(diags)-errorsFound)
	if errorsFound > 0 {
		return fmt.Errorf("%s is not valid", configPath)
	}
	return nil
}
