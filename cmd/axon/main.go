// Command axon is the Axon Matrix homeserver and its administration tools.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/axonhs/axon/internal/cli"
)

func main() {
	// SIGTERM (docker stop, systemd) and SIGINT (Ctrl-C) start a graceful
	// shutdown; once it has begun the handlers are removed, so a second
	// signal kills the process the usual way.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := cli.Main(ctx, cli.OSEnv(), os.Args)
	stop()
	os.Exit(code)
}
