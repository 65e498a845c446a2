package cli

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/axonhs/axon/internal/config"
)

// logBuffer holds log lines in memory in front of their destination, as
// Synapse's PeriodicallyFlushingMemoryHandler does: a file write per
// request would cost more than many requests. Lines go out once capacity
// of them have gathered, when flush is called (for a record at the flush
// level), every period, and at close.
type logBuffer struct {
	out      io.Writer
	capacity int

	mu    sync.Mutex
	buf   []byte
	lines int

	stop chan struct{}
	done chan struct{}
}

func newLogBuffer(out io.Writer, capacity int, period time.Duration) *logBuffer {
	b := &logBuffer{out: out, capacity: capacity, stop: make(chan struct{}), done: make(chan struct{})}
	if period <= 0 {
		close(b.done)
		return b
	}
	go b.flushEvery(period)
	return b
}

// Write takes one log line (slog handlers write a record at a time).
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	b.lines++
	if b.lines >= b.capacity {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (b *logBuffer) flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

func (b *logBuffer) flushLocked() error {
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.out.Write(b.buf)
	b.buf, b.lines = b.buf[:0], 0
	return err
}

func (b *logBuffer) flushEvery(period time.Duration) {
	defer close(b.done)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			_ = b.flush() // nowhere to report it: the log is what failed
		}
	}
}

// close stops the periodic flush and writes what is left.
func (b *logBuffer) close() error {
	select {
	case <-b.done:
	default:
		close(b.stop)
		<-b.done
	}
	return b.flush()
}

// bufferedHandler flushes the buffer after each record at or above the
// flush level, so warnings and errors are never held back.
type bufferedHandler struct {
	slog.Handler
	buf        *logBuffer
	flushLevel slog.Level
}

func newBufferedHandler(out io.Writer, settings config.LogBuffer, opts *slog.HandlerOptions) (*bufferedHandler, *logBuffer) {
	buf := newLogBuffer(out, settings.Capacity, settings.Period)
	return &bufferedHandler{Handler: slog.NewTextHandler(buf, opts), buf: buf, flushLevel: settings.FlushLevel}, buf
}

func (h *bufferedHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= h.flushLevel {
		if ferr := h.buf.flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (h *bufferedHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &bufferedHandler{Handler: h.Handler.WithAttrs(attrs), buf: h.buf, flushLevel: h.flushLevel}
}

func (h *bufferedHandler) WithGroup(name string) slog.Handler {
	return &bufferedHandler{Handler: h.Handler.WithGroup(name), buf: h.buf, flushLevel: h.flushLevel}
}
