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
		enterOwnNamespace(os.Args[1:])
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// enterOwnNamespace re-executes strata in a user namespace of its own when
// it runs as root without the privilege for the sandbox's namespaces (a
// container with docker's default capabilities) and args may use them
// (--isolation auto or namespaces). Where the user namespace is refused
// too (docker's default seccomp profile), strata goes on as it is and auto
// isolation says why it chose chroot.
func enterOwnNamespace(args []string) {
	if os.Geteuid() != 0 || rootless.InUserNamespace() || !cli.WantsSandbox(args) {
		return
	}
	if err := executor.Probe(context.Background()); err != nil {
		_ = rootless.EnterOwn(rootless.Options{}, err.Error()) // returns only when refused, which OwnNote reports
	}
}
