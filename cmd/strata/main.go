// Command strata builds small container images from Dockerfiles, without a daemon.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/strata-build/strata/internal/cli"
	"github.com/strata-build/strata/internal/executor"
	"github.com/strata-build/strata/internal/rootless"
	"github.com/strata-build/strata/internal/store"
)

func main() {
	executor.Init() // the sandbox's re-exec entry point; returns at once in the CLI
	// An ordinary user's strata re-executes itself in a user namespace,
	// unless it only prints help, its version or completions.
	if cli.NeedsPrivilege(os.Args[1:]) {
		if err := rootless.Enter(rootless.Options{Root: store.DefaultRoot()}); err != nil {
			fmt.Fprintln(os.Stderr, "strata:", err)
			os.Exit(1)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
