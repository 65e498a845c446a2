package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/axonhs/axon/internal/config"
)

// runGenerate writes a new configuration the way Synapse's generate does,
// with Synapse's flag names and the Docker image's SYNAPSE_* variables as
// defaults. Existing files, keys and secrets are never overwritten.
func runGenerate(_ context.Context, env Env, args []string) error {
	fset := newFlagSet("generate", env)
	var (
		serverName, reportStats, configPath, dataDir, keysDir string
		generateConfig, openPrivatePorts                      bool
	)
	stringFlag(fset, &serverName, env.Getenv("SYNAPSE_SERVER_NAME"), "the public name of the server, e.g. matrix.example.com (env SYNAPSE_SERVER_NAME)", "server-name", "H")
	stringFlag(fset, &reportStats, env.Getenv("SYNAPSE_REPORT_STATS"), "yes or no: whether to report anonymous statistics (env SYNAPSE_REPORT_STATS)", "report-stats")
	stringFlag(fset, &configPath, defaultConfigPath(env), "where to write homeserver.yaml (env SYNAPSE_CONFIG_PATH, SYNAPSE_CONFIG_DIR)", "c", "config-path")
	stringFlag(fset, &dataDir, env.Getenv("SYNAPSE_DATA_DIR"), "where the database, media and logs go (default: the config file's directory; env SYNAPSE_DATA_DIR)", "data-directory")
	stringFlag(fset, &keysDir, "", "where the signing key goes (default: the config file's directory)", "keys-directory")
	boolFlag(fset, &generateConfig, "accepted for Synapse compatibility: generate is what this command does", "generate-config")
	boolFlag(fset, &openPrivatePorts, "bind the listener to all interfaces instead of localhost", "open-private-ports")
	if _, err := parseArgs(fset, args); err != nil {
		return err
	}
	if serverName == "" {
		return fmt.Errorf("%w: --server-name (or SYNAPSE_SERVER_NAME) is required to generate a config", errUsage)
	}
	report, err := parseYesNo(reportStats)
	if err != nil {
		return fmt.Errorf("%w: please specify either --report-stats=yes or --report-stats=no (or SYNAPSE_REPORT_STATS)", errUsage)
	}
	configDir := filepath.Dir(configPath)
	if dataDir == "" {
		dataDir = configDir
	}
	if keysDir == "" {
		keysDir = configDir
	}
	written, err := config.Generate(config.GenerateOptions{
		ServerName:       serverName,
		ConfigPath:       configPath,
		DataDir:          dataDir,
		KeysDir:          keysDir,
		ReportStats:      report,
		OpenPrivatePorts: openPrivatePorts,
	})
	if err != nil {
		return err
	}
	if len(written) == 0 {
		fmt.Fprintf(env.Stdout, "Config file %q already exists and its keys are in place: nothing to do.\n", configPath)
		return nil
	}
	for _, f := range written {
		fmt.Fprintf(env.Stdout, "Generated %s\n", f)
	}
	fmt.Fprintf(env.Stdout, "Edit %s as you need, then run: axon serve -c %s\n", configPath, configPath)
	return nil
}

// defaultConfigPath follows the Synapse Docker image: SYNAPSE_CONFIG_PATH,
// else SYNAPSE_CONFIG_DIR/homeserver.yaml, else homeserver.yaml here.
func defaultConfigPath(env Env) string {
	if p := env.Getenv("SYNAPSE_CONFIG_PATH"); p != "" {
		return p
	}
	if d := env.Getenv("SYNAPSE_CONFIG_DIR"); d != "" {
		return filepath.Join(d, "homeserver.yaml")
	}
	return "homeserver.yaml"
}

func parseYesNo(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "yes", "y", "true":
		return true, nil
	case "no", "n", "false":
		return false, nil
	}
	return false, fmt.Errorf("not yes or no: %q", s)
}
