package config

import (
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadLogConfig(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       LogSettings
	}{
		{"file", `
handlers:
  file:
    class: logging.handlers.TimedRotatingFileHandler
    filename: /var/log/axon/homeserver.log
  console:
    class: logging.StreamHandler
root:
  level: DEBUG
  handlers: [file]
`, LogSettings{Level: slog.LevelDebug, File: "/var/log/axon/homeserver.log"}},
		{"buffer follows target", `
handlers:
  file:
    class: logging.FileHandler
    filename: h.log
  buffer:
    class: synapse.logging.handlers.PeriodicallyFlushingMemoryHandler
    target: file
    capacity: 10
    flushLevel: 30
root:
  level: WARNING
  handlers: [buffer]
`, LogSettings{Level: slog.LevelWarn, File: "h.log", Buffer: &LogBuffer{Capacity: 10, FlushLevel: slog.LevelWarn, Period: 5 * time.Second}}},
		{"python's memory handler", `
handlers:
  mem:
    class: logging.handlers.MemoryHandler
    capacity: 3
    target: console
  console:
    class: logging.StreamHandler
root:
  level: INFO
  handlers: [mem]
`, LogSettings{Level: slog.LevelInfo, Buffer: &LogBuffer{Capacity: 3, FlushLevel: slog.LevelError}}},
		{"console", `
handlers:
  console:
    class: logging.StreamHandler
root:
  level: error
  handlers: [console]
`, LogSettings{Level: slog.LevelError}},
		{"numeric and critical", "root:\n  level: 50\n", LogSettings{Level: LevelCritical}},
		{"no root level", "version: 1\n", LogSettings{Level: slog.LevelWarn}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LoadLogConfig(writeTemp(t, "log.config", tc.yaml))
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	memory := func(extra string) string {
		return "handlers:\n  b:\n    class: synapse.logging.handlers.PeriodicallyFlushingMemoryHandler\n" + extra + "root:\n  handlers: [b]\n"
	}
	for _, bad := range []string{"root:\n  level: LOUD\n", "root:\n  handlers: [missing]\n", "root: [\n",
		memory(""), memory("    capacity: 0\n"), memory("    capacity: 5\n    period: 0\n"), memory("    capacity: 5\n    flushLevel: LOUD\n")} {
		if _, err := LoadLogConfig(writeTemp(t, "log.config", bad)); err == nil {
			t.Errorf("want an error for %q", bad)
		}
	}
	if _, err := LoadLogConfig(filepath.Join(t.TempDir(), "none")); err == nil || !strings.Contains(err.Error(), "reading log config") {
		t.Errorf("missing file: %v", err)
	}
}

// The sample shipped with Synapse must be understood.
func TestLoadSynapseSampleLogConfig(t *testing.T) {
	const sample = "/work/shared/reference/synapse/docs/sample_log_config.yaml"
	if _, err := os.Stat(sample); err != nil {
		t.Skip("reference material not available")
	}
	got, err := LoadLogConfig(sample)
	buffer := LogBuffer{Capacity: 10, FlushLevel: slog.LevelWarn, Period: 5 * time.Second}
	if err != nil || got.Level != slog.LevelInfo || got.File != "/var/log/matrix-synapse/homeserver.log" || got.Buffer == nil || *got.Buffer != buffer {
		t.Errorf("got %+v, %v", got, err)
	}
}
