package cli

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/axonhs/axon/internal/config"
)

// syncBuffer is a bytes.Buffer safe for the flushing goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Count(s.b.String(), "\n")
}

func TestLogBufferHoldsLinesUntilCapacityOrAWarning(t *testing.T) {
	out := &syncBuffer{}
	h, buf := newBufferedHandler(out, config.LogBuffer{Capacity: 3, FlushLevel: slog.LevelWarn}, nil)
	log := slog.New(h).With("listener", "test")
	log.Info("one")
	log.Info("two")
	if n := out.lines(); n != 0 {
		t.Fatalf("%d lines written before the buffer filled", n)
	}
	log.Info("three")
	if n := out.lines(); n != 3 {
		t.Fatalf("%d lines written once the buffer filled, want 3", n)
	}
	log.Info("four")
	log.Warn("five")
	if n := out.lines(); n != 5 {
		t.Fatalf("%d lines after a warning, want all 5", n)
	}
	log.Info("six")
	if err := buf.close(); err != nil {
		t.Fatal(err)
	}
	if n := out.lines(); n != 6 {
		t.Errorf("%d lines after close, want 6", n)
	}
}

func TestLogBufferFlushesEveryPeriod(t *testing.T) {
	out := &syncBuffer{}
	h, buf := newBufferedHandler(out, config.LogBuffer{Capacity: 100, FlushLevel: slog.LevelError, Period: time.Millisecond}, nil)
	defer buf.close()
	slog.New(h).Info("waiting")
	for deadline := time.Now().Add(10 * time.Second); out.lines() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the periodic flush never came")
		}
	}
}
