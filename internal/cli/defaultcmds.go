package cli

import "github.com/spf13/cobra"

// addDefaultCommands makes cobra's help and completion commands now rather
// than at Execute, so that they carry examples like every other command and
// appear in the generated reference (tools/gendocs).
func addDefaultCommands(root *cobra.Command) {
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	examples := map[string]string{
		"help": `  strata help build
  strata help completion bash`,
		"completion": `  source <(strata completion bash)
  strata completion bash > /etc/bash_completion.d/strata`,
		"completion bash": `  source <(strata completion bash)
  strata completion bash > /etc/bash_completion.d/strata`,
		"completion zsh": `  strata completion zsh > "${fpath[1]}/_strata"`,
		"completion fish": `  strata completion fish | source
  strata completion fish > ~/.config/fish/completions/strata.fish`,
		"completion powershell": `  strata completion powershell | Out-String | Invoke-Expression`,
	}
	for _, c := range root.Commands() {
		for _, cc := range append([]*cobra.Command{c}, c.Commands()...) {
			path := cc.CommandPath()[len(root.Name())+1:]
			if ex, ok := examples[path]; ok && cc.Example == "" {
				cc.Example = ex
			}
		}
	}
}
