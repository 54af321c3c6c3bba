package analyze

import (
	"bytes"
	"fmt"
	"path"
	"strings"

	units "github.com/docker/go-units"
	"go.yaml.in/yaml/v3"
)

// Thresholds are the limits of a CI check: dive's ratios, and the absolute
// floors and budgets its users asked for.
type Thresholds struct {
	// MaxWasted is the most wasted bytes allowed; negative means no limit.
	MaxWasted int64 `json:"maxWasted"`
	// MinEfficiency is the lowest efficiency allowed (0 to 1); 0 means no
	// limit.
	MinEfficiency float64 `json:"minEfficiency"`
	// MinEfficiencyAbove applies MinEfficiency only to images of at least
	// this many bytes (a 5 MB image at 80% wastes 1 MB); 0 means always.
	MinEfficiencyAbove int64 `json:"minEfficiencyAbove,omitempty"`
	// MaxSize is the image's budget in bytes (the sum of its layers); 0
	// means no limit.
	MaxSize int64 `json:"maxSize,omitempty"`
	// MaxLayers is the most non-empty layers allowed; 0 means no limit.
	MaxLayers int `json:"maxLayers,omitempty"`
	// DenyPackages are package names (path.Match patterns, "gcc*") the
	// image must not hold.
	DenyPackages []string `json:"denyPackages,omitempty"`
}

// NoThresholds returns Thresholds that break nothing.
func NoThresholds() Thresholds {
	return Thresholds{MaxWasted: -1}
}

// CIResult is the outcome of Check.
type CIResult struct {
	Thresholds Thresholds `json:"thresholds"`
	// Pass is true when no threshold is broken.
	Pass bool `json:"pass"`
	// Reasons says which thresholds are broken and by how much, one line
	// each.
	Reasons []string `json:"reasons"`
}

// Check compares the report with t.
func (r *Report) Check(t Thresholds) CIResult {
	res := CIResult{Thresholds: t, Reasons: []string{}}
	fail := func(format string, args ...any) { res.Reasons = append(res.Reasons, fmt.Sprintf(format, args...)) }
	if t.MaxWasted >= 0 && r.Wasted > t.MaxWasted {
		fail("wasted bytes %s (%d) exceed --max-wasted %s (%d)", size(r.Wasted), r.Wasted, size(t.MaxWasted), t.MaxWasted)
	}
	if t.MinEfficiency > 0 && r.Efficiency < t.MinEfficiency && r.Size >= t.MinEfficiencyAbove {
		above := ""
		if t.MinEfficiencyAbove > 0 {
			above = fmt.Sprintf(" (applied as the image's %s is at least --min-efficiency-above %s)", size(r.Size), size(t.MinEfficiencyAbove))
		}
		fail("efficiency %.4f is below --min-efficiency %.4g%s", r.Efficiency, t.MinEfficiency, above)
	}
	if t.MaxSize > 0 && r.Size > t.MaxSize {
		fail("image size %s (%d) exceeds --max-size %s (%d)", size(r.Size), r.Size, size(t.MaxSize), t.MaxSize)
	}
	if t.MaxLayers > 0 && r.Layers > t.MaxLayers {
		fail("%d layers exceed --max-layers %d", r.Layers, t.MaxLayers)
	}
	for _, p := range r.Packages {
		for _, pat := range t.DenyPackages {
			if ok, _ := path.Match(pat, p.Name); ok {
				where := ""
				if p.Layer >= 0 {
					where = fmt.Sprintf(", installed by layer %d", p.Layer)
					if p.Line > 0 && r.Dockerfile != "" {
						where += fmt.Sprintf(" (%s:%d)", r.Dockerfile, p.Line)
					}
				}
				fail("package %s %s (%s, %s%s) is denied by --deny-package %q", p.Name, p.Version, p.Manager, size(p.Bytes), where, pat)
				break
			}
		}
	}
	res.Pass = len(res.Reasons) == 0
	return res
}

// ciConfig is the file form of Thresholds.
type ciConfig struct {
	MaxWasted          string   `yaml:"max-wasted"`
	MinEfficiency      float64  `yaml:"min-efficiency"`
	MinEfficiencyAbove string   `yaml:"min-efficiency-above"`
	MaxSize            string   `yaml:"max-size"`
	MaxLayers          int      `yaml:"max-layers"`
	DenyPackages       []string `yaml:"deny-packages"`
}

// ParseCIConfig reads a CI gates file (.strata-ci.yaml) named name:
//
//	max-wasted: 20MB
//	min-efficiency: 0.9
//	min-efficiency-above: 100MB
//	max-size: 500MB
//	max-layers: 30
//	deny-packages: [gcc*, build-essential]
//
// An unknown key is an error, so that a misspelt gate is not ignored.
func ParseCIConfig(name string, data []byte) (Thresholds, error) {
	var c ciConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && err.Error() != "EOF" {
		return Thresholds{}, fmt.Errorf("%s: %w (keys: max-wasted, min-efficiency, min-efficiency-above, max-size, max-layers, deny-packages)", name, err)
	}
	t := NoThresholds()
	sizes := []struct {
		key, v string
		dst    *int64
	}{{"max-wasted", c.MaxWasted, &t.MaxWasted}, {"min-efficiency-above", c.MinEfficiencyAbove, &t.MinEfficiencyAbove}, {"max-size", c.MaxSize, &t.MaxSize}}
	for _, s := range sizes {
		if s.v == "" {
			continue
		}
		n, err := units.FromHumanSize(s.v)
		if err != nil || n < 0 {
			return Thresholds{}, fmt.Errorf("%s: %s %q: give a size such as 20MB or 1.5GB", name, s.key, s.v)
		}
		*s.dst = n
	}
	if c.MinEfficiency < 0 || c.MinEfficiency > 1 {
		return Thresholds{}, fmt.Errorf("%s: min-efficiency %v: give a ratio between 0 and 1, such as 0.9", name, c.MinEfficiency)
	}
	if c.MaxLayers < 0 {
		return Thresholds{}, fmt.Errorf("%s: max-layers %d: give a positive count", name, c.MaxLayers)
	}
	for _, p := range c.DenyPackages {
		if _, err := path.Match(p, ""); err != nil || strings.TrimSpace(p) == "" {
			return Thresholds{}, fmt.Errorf("%s: deny-packages %q: give a package name or a pattern such as gcc*", name, p)
		}
	}
	t.MinEfficiency, t.MaxLayers, t.DenyPackages = c.MinEfficiency, c.MaxLayers, c.DenyPackages
	return t, nil
}

// Active reports whether t sets any limit.
func (t Thresholds) Active() bool {
	return t.MaxWasted >= 0 || t.MinEfficiency > 0 || t.MaxSize > 0 || t.MaxLayers > 0 || len(t.DenyPackages) > 0
}
