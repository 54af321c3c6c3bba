// Package cli is strata's command line: one file per subcommand, each turning
// flags into options, making one library call and printing the result.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/strata-build/strata/internal/store"
)

// globals are the flags every subcommand shares.
type globals struct {
	root  string
	debug bool
}

// exitError carries an exit code without a message of its own.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// Execute runs the strata command line and returns the process exit code.
func Execute(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := NewRoot()
	cmd.SetArgs(args)
	cmd.SetIn(stdin)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		// Ctrl-C: the user knows; "context canceled" would tell nothing.
		fmt.Fprintln(stderr, "strata: interrupted")
		return exitCode(err)
	}
	fmt.Fprintf(stderr, "strata: %v\n", err)
	var d interface{ Detail() string }
	if errors.As(err, &d) {
		fmt.Fprintln(stderr, d.Detail())
	} else if strings.HasPrefix(err.Error(), "unknown command") {
		fmt.Fprintln(stderr, "See 'strata --help'.")
	}
	return exitCode(err)
}

// exitCode is the status strata exits with after err: 130 when it was
// interrupted, as a shell reports Ctrl-C, else 1.
func exitCode(err error) int {
	if errors.Is(err, context.Canceled) {
		return 130
	}
	return 1
}

// NewRoot returns the strata root command with every subcommand.
func NewRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "strata",
		Short: "Build small container images from Dockerfiles, fast, without a daemon",
		Long: `strata builds OCI images from Dockerfiles with Docker's semantics, runs every
RUN isolated on overlayfs, and tells you, layer by layer, where the bytes went.

Registry mirrors, insecure registries and CA files are read, per registry, from
the JSON file $STRATA_CONFIG, else ~/.config/strata/registries.json
(docs/registries.md).`,
		Example: `  strata build -t hello:multi examples/hello
  strata run --rm hello:multi
  strata images
  strata history hello:multi`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.SetVersionTemplate("strata {{.Version}}\n")
	root.PersistentFlags().StringVar(&g.root, "root", "", "store directory (default $STRATA_ROOT, /var/lib/strata as root, else $XDG_DATA_HOME/strata)")
	root.AddCommand(
		newBuildCmd(g),
		newRunCmd(g),
		newExportCmd(g),
		newImportCmd(g),
		newInspectCmd(g),
		newHistoryCmd(g),
		newAnalyzeCmd(g),
		newCheckCmd(g),
		newImagesCmd(g),
		newSquashCmd(g),
		newSlimCmd(g),
		newDiffCmd(g),
		newTagCmd(g),
		newRmiCmd(g),
		newSaveCmd(g),
		newLoadCmd(g),
		newPullCmd(g),
		newPushCmd(g),
		newLoginCmd(), newLogoutCmd(),
		newFsckCmd(g),
		newPruneCmd(g), newDfCmd(g),
		newVersionCmd(),
		newImageCmd(g), newBuilderCmd(g), newSystemCmd(g),
	)
	root.AddCommand(newNoContainerCmds()...)
	addDefaultCommands(root)
	explainUsage(root)
	return root
}

// openStore opens the store the flags name.
func (g *globals) openStore() (*store.Store, error) {
	root := g.root
	if root == "" {
		root = store.DefaultRoot()
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("creating the store at %s: %w", root, err)
	}
	return store.Open(root)
}

// openImage opens the store and resolves ref in it, holding the store's
// shared lock so that no GC removes the image's blobs while a command reads
// them and writes a new image of them (slim, squash); the caller calls
// unlock when done.
func (g *globals) openImage(ref string) (st *store.Store, img v1.Image, rec store.Record, unlock func(), err error) {
	st, err = g.openStore()
	if err != nil {
		return nil, nil, store.Record{}, nil, err
	}
	unlock, err = st.RLock()
	if err != nil {
		return nil, nil, store.Record{}, nil, err
	}
	img, rec, err = st.Image(ref)
	if err != nil {
		unlock()
		return nil, nil, store.Record{}, nil, err
	}
	return st, img, rec, unlock, nil
}

// version is set by the linker.
var version = "dev"

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print strata's version",
		Example: "  strata version",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "strata %s\n", version)
			return nil
		},
	}
}
