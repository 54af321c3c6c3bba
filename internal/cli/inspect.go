package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/strata-build/strata/internal/store"
)

// inspectImage is one element of `strata inspect`: the object `docker image
// inspect` prints, field for field and in its order.
type inspectImage struct {
	ID              string `json:"Id"`
	RepoTags        []string
	RepoDigests     []string
	Parent          string
	Comment         string
	Created         string
	Container       string
	ContainerConfig dockerConfig
	DockerVersion   string
	Author          string
	Config          dockerConfig
	Architecture    string
	Variant         string `json:",omitempty"`
	Os              string
	OsVersion       string `json:",omitempty"`
	Size            int64
	VirtualSize     int64
	GraphDriver     graphDriver
	RootFS          rootFS
	Metadata        imageMetadata
}

// dockerConfig is docker's container.Config: unlike v1.Config, empty fields
// are printed ("Cmd": null, "User": "") except where docker omits them.
type dockerConfig struct {
	Hostname     string
	Domainname   string
	User         string
	AttachStdin  bool
	AttachStdout bool
	AttachStderr bool
	ExposedPorts map[string]struct{} `json:",omitempty"`
	Tty          bool
	OpenStdin    bool
	StdinOnce    bool
	Env          []string
	Cmd          []string
	Healthcheck  *healthConfig `json:",omitempty"`
	ArgsEscaped  bool          `json:",omitempty"`
	Image        string
	Volumes      map[string]struct{}
	WorkingDir   string
	Entrypoint   []string
	OnBuild      []string
	Labels       map[string]string
	StopSignal   string   `json:",omitempty"`
	Shell        []string `json:",omitempty"`
}

type graphDriver struct {
	Data map[string]string
	Name string
}

type rootFS struct {
	Type   string
	Layers []string `json:",omitempty"`
}

type imageMetadata struct {
	LastTagTime string
}

func newInspectCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [flags] IMAGE...",
		Short: "Show images' configuration as docker image inspect does",
		Example: `  strata inspect busybox
  strata inspect --format '{{.Id}}' hello:multi
  strata inspect --format '{{json .Config.Cmd}}' hello:multi`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.openStore()
			if err != nil {
				return err
			}
			// As docker: print what was found, then an error for each
			// name that was not.
			var list []inspectImage
			var errs []error
			for _, ref := range args {
				img, rec, err := st.Image(ref)
				if err == nil {
					var ii inspectImage
					if ii, err = inspectOf(img, rec); err == nil {
						list = append(list, ii)
						continue
					}
					err = fmt.Errorf("inspecting %s: %w", ref, err)
				}
				errs = append(errs, err)
			}
			if len(list) > 0 || len(errs) == 0 {
				if err := printInspect(cmd.OutOrStdout(), list, format); err != nil {
					return err
				}
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Go template applied to each image")
	return cmd
}

// printInspect prints list as JSON, or each element through format.
func printInspect(out io.Writer, list []inspectImage, format string) error {
	if format == "" {
		if list == nil {
			list = []inspectImage{}
		}
		return writeJSON(out, list)
	}
	t, err := parseTemplate(format)
	if err != nil {
		return err
	}
	for _, ii := range list {
		var buf bytes.Buffer
		if err := t.Execute(&buf, ii); err != nil {
			// Like docker, fall back to the raw JSON, so that
			// templates written for docker's generic maps work.
			raw, _ := json.Marshal(ii)
			var generic map[string]any
			_ = json.Unmarshal(raw, &generic)
			buf.Reset()
			if err2 := t.Execute(&buf, generic); err2 != nil {
				return fmt.Errorf("--format: %w", err)
			}
		}
		buf.WriteByte('\n')
		if _, err := out.Write(buf.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

// inspectOf builds docker's inspect object for the stored image img.
func inspectOf(img v1.Image, rec store.Record) (inspectImage, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return inspectImage{}, fmt.Errorf("reading config: %w", err)
	}
	ii := inspectImage{
		ID:            rec.ID.String(),
		RepoTags:      []string{},
		RepoDigests:   []string{},
		Comment:       imageComment(img, cfg),
		Created:       cfg.Created.UTC().Format(time.RFC3339Nano),
		DockerVersion: cfg.DockerVersion,
		Author:        cfg.Author,
		Config:        dockerConfigOf(cfg.Config),
		Architecture:  cfg.Architecture,
		Variant:       cfg.Variant,
		Os:            cfg.OS,
		OsVersion:     cfg.OSVersion,
		Size:          rec.Size,
		VirtualSize:   rec.Size,
		GraphDriver:   graphDriver{Name: "strata"},
		RootFS:        rootFS{Type: "layers"},
		Metadata:      imageMetadata{LastTagTime: time.Time{}.Format(time.RFC3339Nano)},
	}
	if cfg.RootFS.Type != "" {
		ii.RootFS.Type = cfg.RootFS.Type
	}
	for _, d := range cfg.RootFS.DiffIDs {
		ii.RootFS.Layers = append(ii.RootFS.Layers, d.String())
	}
	if raw, err := img.RawConfigFile(); err == nil && ii.Config.Healthcheck != nil {
		ii.Config.Healthcheck.StartInterval = startIntervalOf(raw)
	}
	for _, n := range rec.Names {
		if strings.Contains(n, "@") {
			ii.RepoDigests = append(ii.RepoDigests, store.FamiliarName(n))
		} else {
			ii.RepoTags = append(ii.RepoTags, store.FamiliarName(n))
		}
	}
	return ii, nil
}

// imageComment returns the comment docker shows for an image: the config's
// own "comment", else that of its newest history entry.
func imageComment(img v1.Image, cfg *v1.ConfigFile) string {
	var top struct {
		Comment string `json:"comment"`
	}
	if raw, err := img.RawConfigFile(); err == nil && json.Unmarshal(raw, &top) == nil && top.Comment != "" {
		return top.Comment
	}
	if n := len(cfg.History); n > 0 {
		return cfg.History[n-1].Comment
	}
	return ""
}

// dockerConfigOf copies c into docker's shape.
func dockerConfigOf(c v1.Config) dockerConfig {
	return dockerConfig{
		Hostname:     c.Hostname,
		Domainname:   c.Domainname,
		User:         c.User,
		AttachStdin:  c.AttachStdin,
		AttachStdout: c.AttachStdout,
		AttachStderr: c.AttachStderr,
		ExposedPorts: c.ExposedPorts,
		Tty:          c.Tty,
		OpenStdin:    c.OpenStdin,
		StdinOnce:    c.StdinOnce,
		Env:          c.Env,
		Cmd:          c.Cmd,
		Healthcheck:  healthOf(c.Healthcheck),
		ArgsEscaped:  c.ArgsEscaped,
		Image:        c.Image,
		Volumes:      c.Volumes,
		WorkingDir:   c.WorkingDir,
		Entrypoint:   c.Entrypoint,
		OnBuild:      c.OnBuild,
		Labels:       c.Labels,
		StopSignal:   c.StopSignal,
		Shell:        c.Shell,
	}
}
