package cli

import "github.com/strata-build/strata/internal/registry"

// registryOptions returns the registry client's options: the registries file
// ($STRATA_CONFIG, else ~/.config/strata/registries.json) and the
// registries given with --insecure-registry.
func registryOptions(insecure []string) (registry.Options, error) {
	c, err := registry.LoadConfig()
	if err != nil {
		return registry.Options{}, err
	}
	return registry.Options{Insecure: insecure, Config: c}, nil
}
