package cli

import "slices"

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
