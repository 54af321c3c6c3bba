package analyze

import "fmt"

// Thresholds are the limits of a CI check, as dive's CI mode has them.
type Thresholds struct {
	// MaxWasted is the most wasted bytes allowed; negative means no limit.
	MaxWasted int64 `json:"maxWasted"`
	// MinEfficiency is the lowest efficiency allowed (0 to 1); 0 means no
	// limit.
	MinEfficiency float64 `json:"minEfficiency"`
}

// CIResult is the outcome of Check.
type CIResult struct {
	Thresholds Thresholds `json:"thresholds"`
	// Pass is true when no threshold is broken.
	Pass bool `json:"pass"`
	// Reasons says which thresholds are broken and by how much.
	Reasons []string `json:"reasons"`
}

// Check compares the report with t.
func (r *Report) Check(t Thresholds) CIResult {
	res := CIResult{Thresholds: t, Reasons: []string{}}
	if t.MaxWasted >= 0 && r.Wasted > t.MaxWasted {
		res.Reasons = append(res.Reasons, fmt.Sprintf("wasted bytes %s (%d) exceed --max-wasted %s (%d)",
			size(r.Wasted), r.Wasted, size(t.MaxWasted), t.MaxWasted))
	}
	if t.MinEfficiency > 0 && r.Efficiency < t.MinEfficiency {
		res.Reasons = append(res.Reasons, fmt.Sprintf("efficiency %.4f is below --min-efficiency %.4g",
			r.Efficiency, t.MinEfficiency))
	}
	res.Pass = len(res.Reasons) == 0
	return res
}
