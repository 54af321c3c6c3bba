package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// usageError is a mistake in how a command was typed: the message says
// what is wrong, Detail where to read how to type it.
type usageError struct {
	path string // "strata tag"
	err  error
}

func (e *usageError) Error() string  { return e.err.Error() }
func (e *usageError) Unwrap() error  { return e.err }
func (e *usageError) Detail() string { return fmt.Sprintf("See '%s --help'.", e.path) }

// noArgs accepts no positional arguments.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%q accepts no arguments, got %q", cmd.CommandPath(), args)
	}
	return nil
}

// positional reads the names of cmd's arguments from its Use line:
// the required ones (IMAGE), the optional ones ([TAG]) and whether the
// last repeats (IMAGE... or [ARG...]).
func positional(cmd *cobra.Command) (required, optional []string, variadic bool) {
	for _, f := range strings.Fields(cmd.Use)[1:] {
		if f == "[flags]" || f == "--" || f == "[--" {
			continue
		}
		if strings.HasSuffix(f, "...") || strings.HasSuffix(f, "...]") {
			variadic = true
		}
		name := strings.TrimSuffix(strings.Trim(f, "[]"), "...")
		if strings.HasPrefix(f, "[") {
			optional = append(optional, name)
			continue
		}
		if i := strings.IndexByte(name, '['); i > 0 {
			name = name[:i] // SOURCE_IMAGE[:TAG]
		}
		required = append(required, name)
	}
	return required, optional, variadic
}

// argsMessage says what is wrong with args for cmd, whose own check
// refused them.
func argsMessage(cmd *cobra.Command, args []string, err error) error {
	req, opt, variadic := positional(cmd)
	path := cmd.CommandPath()
	switch {
	case len(args) < len(req):
		missing := req[len(args):]
		return fmt.Errorf("%q requires %s: %s missing (usage: %s)", path, countArgs(len(req), variadic), strings.Join(missing, " and ")+pluralOf(len(missing), " is", " are"), cmd.UseLine())
	case len(req)+len(opt) == 0:
		return fmt.Errorf("%q accepts no arguments, got %q", path, args)
	case !variadic && len(args) > len(req)+len(opt):
		return fmt.Errorf("%q accepts at most %d, got %d: %q (usage: %s)", path, len(req)+len(opt), len(args), args, cmd.UseLine())
	}
	return err
}

func countArgs(n int, variadic bool) string {
	s := fmt.Sprintf("%d argument%s", n, pluralOf(n, "", "s"))
	if variadic {
		return "at least " + s
	}
	return s
}

func pluralOf(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// explainUsage wraps every command's argument check and flag parsing so
// that a mistake says what is missing and where to read more.
func explainUsage(root *cobra.Command) {
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &usageError{path: c.CommandPath(), err: err}
	})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if check := c.Args; check != nil {
			c.Args = func(cmd *cobra.Command, args []string) error {
				if err := check(cmd, args); err != nil {
					return &usageError{path: cmd.CommandPath(), err: argsMessage(cmd, args, err)}
				}
				return nil
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
