package cli

import (
	"fmt"
	"strings"

	"github.com/strata-build/strata/internal/solver"
)

// parseSSH reads --ssh values as buildx writes them: "ID" (the agent of
// $SSH_AUTH_SOCK, "default" being the id RUN --mount=type=ssh uses
// without id=) or "ID=SOCKET". strata forwards agent sockets; key files
// (which buildx loads into an agent of its own) are refused with what to
// do.
func parseSSH(list []string, getenv func(string) string) (map[string]string, error) {
	if len(list) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, v := range list {
		id, sock, ok := strings.Cut(v, "=")
		if id == "" {
			return nil, fmt.Errorf("--ssh %q: want default, ID or ID=SOCKET", v)
		}
		if !ok {
			if sock = getenv("SSH_AUTH_SOCK"); sock == "" {
				return nil, fmt.Errorf("--ssh %s: $SSH_AUTH_SOCK is not set: start an agent (eval $(ssh-agent); ssh-add) or pass --ssh %s=SOCKET", id, id)
			}
		}
		if strings.Contains(sock, ",") {
			return nil, fmt.Errorf("--ssh %s: one agent socket per id (strata forwards agent sockets, not key files)", v)
		}
		if err := solver.CheckSSHAgent(sock); err != nil {
			return nil, fmt.Errorf("--ssh %s: %w", v, err)
		}
		if _, dup := out[id]; dup {
			return nil, fmt.Errorf("--ssh %s: id %s given twice", v, id)
		}
		out[id] = sock
	}
	return out, nil
}
