package solver

import (
	"github.com/strata-build/strata/internal/dockerfile"
	"github.com/strata-build/strata/internal/plan"
)

// checkDockerfile refuses, located, what the stages this build runs ask
// for and strata does not do (dockerfile.Check).
func (b *builder) checkDockerfile() error {
	pa := plan.PlatformArgs("")
	env := dockerfile.NewEnv(nil)
	for _, k := range sortedKeys(pa) {
		env.Set(k, pa[k])
	}
	for _, k := range b.plan.MetaArgs.Keys() {
		v, _ := b.plan.MetaArgs.Get(k)
		env.Set(k, v)
	}
	stages := append([]int{}, b.plan.Needed...)
	return dockerfile.Check(b.df, dockerfile.CheckOptions{Platform: pa["TARGETPLATFORM"], FromEnv: env, Stages: stages})
}
