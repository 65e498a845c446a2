package config

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// LogSettings is what Axon takes from a Python-logging log_config file.
type LogSettings struct {
	Level slog.Level
	// File is where to write logs, or "" for standard error.
	File string
	// Buffer is set when the root logger writes through a memory handler.
	Buffer *LogBuffer
}

// LogBuffer is a memory handler in front of the destination, as Synapse's
// PeriodicallyFlushingMemoryHandler (or Python's MemoryHandler): records
// wait in memory until Capacity of them have gathered, one at FlushLevel
// or above comes, or Period has passed (never, when 0).
type LogBuffer struct {
	Capacity   int
	FlushLevel slog.Level
	Period     time.Duration
}

// LevelCritical is Python's CRITICAL, which slog has no name for.
const LevelCritical = slog.LevelError + 4

// pythonLogConfig is the subset of logging.config.dictConfig that matters
// for picking one level and one destination.
type pythonLogConfig struct {
	Handlers map[string]pythonHandler `yaml:"handlers"`
	Root     struct {
		Level    any      `yaml:"level"`
		Handlers []string `yaml:"handlers"`
	} `yaml:"root"`
}

type pythonHandler struct {
	Class    string `yaml:"class"`
	Filename string `yaml:"filename"`
	// Memory handlers forward to another handler.
	Target     string   `yaml:"target"`
	Capacity   *int     `yaml:"capacity"`
	FlushLevel any      `yaml:"flushLevel"`
	Period     *float64 `yaml:"period"`
}

// buffer reads a memory handler's settings with Python's and Synapse's
// defaults: flushLevel ERROR, period 5 s for the periodic handler.
func (h pythonHandler) buffer() (*LogBuffer, error) {
	if h.Capacity == nil || *h.Capacity < 1 {
		return nil, fmt.Errorf("memory handler %s needs a capacity of at least 1", h.Class)
	}
	b := &LogBuffer{Capacity: *h.Capacity, FlushLevel: slog.LevelError}
	if h.FlushLevel != nil {
		lvl, err := pythonLevel(h.FlushLevel)
		if err != nil {
			return nil, fmt.Errorf("flushLevel: %w", err)
		}
		b.FlushLevel = lvl
	}
	if strings.HasSuffix(h.Class, "PeriodicallyFlushingMemoryHandler") {
		period := 5.0
		if h.Period != nil {
			period = *h.Period
		}
		if period <= 0 {
			return nil, fmt.Errorf("period must be positive, not %v", period)
		}
		b.Period = time.Duration(period * float64(time.Second))
	}
	return b, nil
}

func (h pythonHandler) isMemory() bool { return strings.HasSuffix(h.Class, "MemoryHandler") }

// LoadLogConfig reads a log config as Synapse generates it and returns the
// root level and the log file of the first file handler the root logger
// uses (following memory-buffer handlers to their target). Without a file
// handler, logs go to standard error. Per-logger overrides are ignored.
func LoadLogConfig(path string) (LogSettings, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return LogSettings{}, fmt.Errorf("reading log config: %w", err)
	}
	var pc pythonLogConfig
	if err := yaml.Unmarshal(data, &pc); err != nil {
		return LogSettings{}, fmt.Errorf("log config %s: not valid YAML: %w", path, err)
	}
	// Python's root logger defaults to WARNING when no level is given.
	ls := LogSettings{Level: slog.LevelWarn}
	if pc.Root.Level != nil {
		lvl, err := pythonLevel(pc.Root.Level)
		if err != nil {
			return LogSettings{}, fmt.Errorf("log config %s: root.level: %w", path, err)
		}
		ls.Level = lvl
	}
	for _, name := range pc.Root.Handlers {
		seen := map[string]bool{}
		for name != "" && !seen[name] {
			seen[name] = true
			h, ok := pc.Handlers[name]
			if !ok {
				return LogSettings{}, fmt.Errorf("log config %s: root uses handler %q, which is not defined", path, name)
			}
			if h.Filename != "" && strings.Contains(h.Class, "FileHandler") {
				ls.File = h.Filename
				return ls, nil
			}
			if h.isMemory() && ls.Buffer == nil {
				b, err := h.buffer()
				if err != nil {
					return LogSettings{}, fmt.Errorf("log config %s: handler %q: %w", path, name, err)
				}
				ls.Buffer = b
			}
			name = h.Target
		}
	}
	return ls, nil
}

// pythonLevel maps a Python logging level (name or number) to slog.
func pythonLevel(v any) (slog.Level, error) {
	s := strings.ToUpper(strings.TrimSpace(fmt.Sprint(v)))
	switch s {
	case "NOTSET", "DEBUG":
		return slog.LevelDebug, nil
	case "INFO":
		return slog.LevelInfo, nil
	case "WARNING", "WARN":
		return slog.LevelWarn, nil
	case "ERROR":
		return slog.LevelError, nil
	case "CRITICAL", "FATAL":
		return LevelCritical, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		// Python's numeric levels: 10 DEBUG, 20 INFO, 30 WARNING, 40 ERROR, 50 CRITICAL.
		switch {
		case n < 20:
			return slog.LevelDebug, nil
		case n < 30:
			return slog.LevelInfo, nil
		case n < 40:
			return slog.LevelWarn, nil
		case n < 50:
			return slog.LevelError, nil
		default:
			return LevelCritical, nil
		}
	}
	return 0, fmt.Errorf("unknown level %q; expected DEBUG, INFO, WARNING, ERROR or CRITICAL", s)
}
