// Command strata builds small container images from Dockerfiles, without a daemon.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/strata-build/strata/internal/cli"
	"github.com/strata-build/strata/internal/executor"
)

func main() {
	executor.Init() // the sandbox's re-exec entry point; returns at once in the CLI
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
