package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/strata-build/strata/internal/registry"
)

type loginFlags struct {
	username      string
	password      string
	passwordStdin bool
	insecure      []string
}

func newLoginCmd() *cobra.Command {
	f := &loginFlags{}
	cmd := &cobra.Command{
		Use:   "login [flags] [SERVER]",
		Short: "Log in to a registry, as docker login does (the credentials go where docker keeps them)",
		Long: `Log in to a registry: the credentials are checked against it, then stored
as docker login stores them, in the credential helper $DOCKER_CONFIG/config.json
(or ~/.docker/config.json) names for the registry (credHelpers, else credsStore:
the docker-credential-NAME program on PATH), else base64 in its "auths".
strata build, pull and push read them from there. SERVER defaults to Docker Hub.`,
		Example: `  echo "$REGISTRY_PASSWORD" | strata login -u ci --password-stdin registry.example:5000`,
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := f.options(cmd.InOrStdin(), args)
			if err != nil {
				return err
			}
			path, err := registry.Login(cmd.Context(), opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Login Succeeded (credentials stored by way of %s)\n", path)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.username, "username", "u", "", "username")
	fl.StringVarP(&f.password, "password", "p", "", "password (visible to other users of the machine: prefer --password-stdin)")
	fl.BoolVar(&f.passwordStdin, "password-stdin", false, "read the password from stdin")
	fl.StringArrayVar(&f.insecure, "insecure-registry", nil, "reach this registry (host:port) over plain http; loopback registries need not be listed; \"insecure\" in the registries file does the same")
	return cmd
}

// options turns the flags into a login.
func (f *loginFlags) options(stdin io.Reader, args []string) (registry.LoginOptions, error) {
	ro, err := registryOptions(f.insecure)
	if err != nil {
		return registry.LoginOptions{}, err
	}
	opts := registry.LoginOptions{Username: f.username, Password: f.password, Registry: ro}
	if len(args) == 1 {
		opts.Server = args[0]
	}
	if f.passwordStdin {
		if f.password != "" {
			return opts, errors.New("--password and --password-stdin are mutually exclusive")
		}
		b, err := io.ReadAll(io.LimitReader(stdin, 1<<20))
		if err != nil {
			return opts, fmt.Errorf("reading the password from stdin: %w", err)
		}
		opts.Password = strings.TrimRight(string(b), "\r\n")
	}
	if opts.Username == "" {
		return opts, errors.New("login needs --username (-u)")
	}
	if opts.Password == "" {
		return opts, errors.New("login needs a password: --password-stdin (or --password)")
	}
	return opts, nil
}

func newLogoutCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "logout [SERVER]",
		Short:   "Remove a registry's credentials from where docker login put them",
		Example: `  strata logout registry.example:5000`,
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := registry.LoginOptions{}
			if len(args) == 1 {
				opts.Server = args[0]
			}
			had, err := registry.Logout(opts)
			if err != nil {
				return err
			}
			if !had {
				fmt.Fprintf(cmd.OutOrStdout(), "Not logged in to %s\n", serverName(opts.Server))
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Removing login credentials for %s\n", serverName(opts.Server))
			return nil
		},
	}
}

// serverName is SERVER as the user gave it, or Docker Hub.
func serverName(s string) string {
	if s == "" {
		return "Docker Hub"
	}
	return s
}
