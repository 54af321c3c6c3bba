package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/google/shlex"
	"github.com/spf13/cobra"

	"github.com/strata-build/strata/internal/executor"
	"github.com/strata-build/strata/internal/slim"
)

type slimFlags struct {
	tags, probes, httpProbes []string
	include, includeBin      []string
	keepShell, keepBase      bool
	quiet                    bool
	timeout                  time.Duration
	report, snapshotter      string
}

func newSlimCmd(g *globals) *cobra.Command {
	f := &slimFlags{}
	cmd := &cobra.Command{
		Use:   "slim [flags] IMAGE -t NEW",
		Short: "Shrink an image to the files its command uses, and check that it still works",
		Long: `Run IMAGE's command (or each --probe, or the command with each --http-probe)
in the sandbox, traced, and store as NEW one layer holding only what the runs
used: every path they opened, executed, examined, listed or mapped, the
symlinks on the way, the interpreters and the shared libraries (DT_NEEDED,
recursively) of the kept programs, /etc/passwd, /etc/group,
/etc/nsswitch.conf, the working directory and the declared volumes. The
config is kept; with --keep-base, the layers of the image's base (the image of
the store with the most layers that IMAGE is built on) stay as they are, shared,
and only the files above them are slimmed. A history entry and the label
org.strata-build.slim record the original digest, the probes and the file
counts.

A directory that was only listed (readdir, a glob, ls) is kept with only the
entries some run opened, executed or examined: its other entries go, as
docker-slim drops them too. A program whose output or choices depend on such
names (a glob, a plugin or config directory read by listing it) answers
otherwise on the result, which the check below catches; keep the directory
whole with --include DIR.

The probes then run again on the result: when an exit status, an output
(stdout and stderr; for --http-probe the HTTP status and body) differs, slim
fails, names the probe, and tags nothing. Probes run with no network but
their own loopback.`,
		Example: `  strata slim app:1 -t app:slim --http-probe 8000:/
  strata slim tool:1 -t tool:slim --probe 'tool --version' --probe 'tool selftest'
  strata slim app:1 -t app:slim --include /usr/share/zoneinfo --report kept.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(f.tags) == 0 {
				return fmt.Errorf("give the slimmed image a name with -t NEW")
			}
			opts, err := f.options(args[0])
			if err != nil {
				return err
			}
			st, img, rec, unlock, err := g.openImage(args[0])
			if err != nil {
				return err
			}
			defer unlock()
			res, err := slim.Image(cmd.Context(), st, img, opts)
			if res != nil && f.report != "" {
				// Written when a probe differs too, to see what was removed.
				if err := writeSlimReport(f.report, args[0], res); err != nil {
					return err
				}
			}
			if err != nil {
				return err
			}
			out, err := st.WriteImage(cmd.Context(), res.Image, f.tags...)
			if err != nil {
				return fmt.Errorf("storing the slimmed image: %w", err)
			}
			if !f.quiet {
				printSlim(cmd.ErrOrStderr(), args[0], rec.Size, out.Size, res)
			}
			fmt.Fprintln(cmd.OutOrStdout(), out.ID)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.tags, "tag", "t", nil, "name of the slimmed image (name:tag); repeatable")
	fl.StringArrayVar(&f.probes, "probe", nil, "arguments that replace the image's CMD for one traced run, split as a shell would (no expansion); repeatable")
	fl.StringArrayVar(&f.httpProbes, "http-probe", nil, "run the image's command and GET PATH from port PORT inside its network namespace (PORT:PATH, PATH from /); repeatable")
	fl.StringArrayVar(&f.include, "include", nil, "absolute path kept with everything under it; repeatable")
	fl.StringArrayVar(&f.includeBin, "include-bin", nil, "absolute path of an executable kept with its interpreter and shared libraries; repeatable")
	fl.BoolVar(&f.keepShell, "keep-shell", false, "keep /bin/sh and what it needs")
	fl.BoolVar(&f.keepBase, "keep-base", false, "keep the layers of the image's base (the stored image it is built on) as they are, and slim only the layers above")
	fl.DurationVar(&f.timeout, "timeout", time.Minute, "longest a probe may run (an HTTP probe: wait for an answer)")
	fl.StringVar(&f.report, "report", "", "write the kept and removed paths and the probes' outputs to this file (JSON), also when a probe differs")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only the new image ID")
	addSnapshotterFlag(fl, &f.snapshotter)
	return cmd
}

// options turns the flags into slim's options.
func (f *slimFlags) options(ref string) (slim.Options, error) {
	o := slim.Options{Ref: ref, Include: f.include, IncludeBin: f.includeBin, KeepShell: f.keepShell, KeepBase: f.keepBase, Timeout: f.timeout}
	if f.timeout <= 0 {
		return o, fmt.Errorf("--timeout %s: give a positive duration", f.timeout)
	}
	var err error
	if o.Snapshotter, err = snapshotterKind(f.snapshotter); err != nil {
		return o, err
	}
	for _, p := range f.probes {
		args, err := shlex.Split(p)
		if err != nil || len(args) == 0 {
			return o, fmt.Errorf("--probe %q: give a command, quoted as for a shell", p)
		}
		o.Probes = append(o.Probes, slim.Probe{Args: args})
	}
	for _, h := range f.httpProbes {
		port, path, _ := strings.Cut(h, ":")
		n, err := strconv.Atoi(port)
		if path == "" {
			path = "/"
		}
		if err != nil || n < 1 || n > 65535 || !strings.HasPrefix(path, "/") {
			return o, fmt.Errorf("--http-probe %q: want PORT:PATH, such as 8000:/health", h)
		}
		o.Probes = append(o.Probes, slim.Probe{HTTP: &executor.HTTPProbe{Port: n, Path: path}})
	}
	return o, nil
}

// writeSlimReport writes what slim kept and removed, as JSON.
func writeSlimReport(file, ref string, res *slim.Result) error {
	data, err := json.MarshalIndent(struct {
		Image       string            `json:"image"`
		From        string            `json:"from"`
		Before      slim.Stats        `json:"before"`
		After       slim.Stats        `json:"after"`
		Packages    *slim.Packages    `json:"packages,omitempty"`
		Probes      []slim.Outcome    `json:"probes"`
		RemovedDirs []slim.RemovedDir `json:"removedDirs"`
		Missing     []string          `json:"missingLibraries,omitempty"`
		Kept        []string          `json:"kept"`
		Removed     []string          `json:"removed"`
	}{ref, res.From.String(), res.Before, res.After, res.Packages, res.Probes, res.RemovedDirs, res.Missing, res.Kept, res.Removed}, "", "  ")
	if err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	if err := os.WriteFile(file, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	return nil
}

// printSlim prints the before/after summary; image sizes below zero are
// unknown (a build's image before slimming was never stored).
func printSlim(w io.Writer, ref string, before, after int64, res *slim.Result) {
	pct := 0.0
	if before > 0 {
		pct = 100 * float64(after) / float64(before)
	}
	fmt.Fprintf(w, "slimmed %s (%s)\n", ref, res.From)
	if res.Base != nil {
		fmt.Fprintf(w, "  kept its base %s (%s) as it is; the counts are of the layers above\n", res.Base.Name, plural(res.Base.Layers, "layer"))
	}
	if before >= 0 {
		fmt.Fprintf(w, "  image size  %s -> %s (%.1f%%)\n", humanSize(before), humanSize(after), pct)
	}
	fmt.Fprintf(w, "  files       %d -> %d\n", res.Before.Files, res.After.Files)
	fmt.Fprintf(w, "  file bytes  %s -> %s\n", humanSize(res.Before.Bytes), humanSize(res.After.Bytes))
	if p := res.Packages; p != nil {
		names := p.Kept
		if len(names) > 12 {
			names = append(names[:12:12], "...")
		}
		fmt.Fprintf(w, "  packages    %d -> %d with files kept (%s)\n", p.Before, p.After, strings.Join(names, ", "))
	}
	if len(res.RemovedDirs) > 0 {
		fmt.Fprintln(w, "  largest removed directories:")
		for i, d := range res.RemovedDirs {
			if i == 8 {
				break
			}
			fmt.Fprintf(w, "    %-40s %10s %6d files\n", d.Path, humanSize(d.Bytes), d.Files)
		}
	}
	for _, m := range res.Missing {
		fmt.Fprintf(w, "  warning: %s, which the image lacks\n", m)
	}
	for i, o := range res.Probes {
		fmt.Fprintf(w, "  probe %d (%s): same on the slimmed image: exit status %d", i+1, o.Probe, o.Slim.Exit)
		if h := o.Slim.HTTP; h != nil {
			fmt.Fprintf(w, ", HTTP %d, %d bytes", h.Status, len(h.Body))
		} else {
			fmt.Fprintf(w, ", %d bytes of output", len(o.Slim.Stdout)+len(o.Slim.Stderr))
		}
		fmt.Fprintln(w)
	}
}
