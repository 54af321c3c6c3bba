package cli

import (
	"slices"

	"github.com/strata-build/strata/internal/executor"
)

// NeedsPrivilege reports whether the command line args (without the program
// name) touches the store or runs anything, and so needs root or, for an
// ordinary user, strata's user namespace. Help, version and completion do
// not: they work for any user on any machine.
func NeedsPrivilege(args []string) bool {
	if slices.Contains(args, "-h") || slices.Contains(args, "--help") {
		return false
	}
	if len(args) > 0 && (args[0] == "__complete" || args[0] == "__completeNoDesc") {
		return false // cobra adds these when it runs, Find does not know them
	}
	cmd, _, err := NewRoot().Find(args)
	if err != nil || cmd == nil {
		return true // let the command line report it, with the store at hand
	}
	for c := cmd; c != nil; c = c.Parent() {
		switch c.Name() {
		case "help", "version", "completion", "login", "logout":
			return false
		}
	}
	return cmd.HasParent() // the bare root command prints its help
}

// WantsSandbox reports whether args run a command with --isolation whose
// isolation (the flag, else $STRATA_ISOLATION) may use the sandbox's
// namespaces: auto or namespaces, not chroot.
func WantsSandbox(args []string) bool {
	cmd, rest, err := NewRoot().Find(args)
	if err != nil || cmd == nil || cmd.Flags().Lookup("isolation") == nil {
		return false
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return false // the command line reports it
	}
	flag, err := cmd.Flags().GetString("isolation")
	if err != nil {
		return false
	}
	iso, err := isolation(flag)
	return err == nil && iso != executor.IsolationChroot
}
