package cli

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/axonhs/axon/internal/config"
)

// newLogger builds the process logger from log_config: the level and file
// of Synapse's Python-logging YAML, or stderr when there is none.
func newLogger(env Env, cfg *config.Config) (*slog.Logger, func(), error) {
	settings := config.LogSettings{Level: slog.LevelInfo}
	if cfg.LogConfig != "" {
		var err error
		if settings, err = config.LoadLogConfig(cfg.LogConfig); err != nil {
			return nil, nil, fmt.Errorf("log_config: %w", err)
		}
	}
	var out io.Writer = env.Stderr
	closeFn := func() {}
	if settings.File != "" {
		f, err := os.OpenFile(settings.File, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return nil, nil, fmt.Errorf("open log file from %s: %w", cfg.LogConfig, err)
		}
		out = f
		closeFn = func() { _ = f.Close() }
		fmt.Fprintf(env.Stderr, "Logging to %s at level %s\n", settings.File, settings.Level)
	}
	opts := &slog.HandlerOptions{Level: settings.Level}
	if settings.Buffer == nil {
		return slog.New(slog.NewTextHandler(out, opts)), closeFn, nil
	}
	h, buf := newBufferedHandler(out, *settings.Buffer, opts)
	closeOut := closeFn
	closeFn = func() {
		_ = buf.close()
		closeOut()
	}
	return slog.New(h), closeFn, nil
}
