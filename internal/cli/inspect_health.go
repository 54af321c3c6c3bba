package cli

import (
	"encoding/json"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// healthConfig is docker's HealthConfig: v1.HealthConfig and the
// StartInterval (HEALTHCHECK --start-interval) it lacks.
type healthConfig struct {
	v1.HealthConfig
	StartInterval time.Duration `json:",omitempty"`
}

// healthOf returns h in docker's shape, nil for nil.
func healthOf(h *v1.HealthConfig) *healthConfig {
	if h == nil {
		return nil
	}
	return &healthConfig{HealthConfig: *h}
}

// startIntervalOf reads Healthcheck.StartInterval (nanoseconds) from a
// raw image config; 0 when absent.
func startIntervalOf(raw []byte) time.Duration {
	var c struct {
		Config struct {
			Healthcheck *struct {
				StartInterval time.Duration `json:"StartInterval"`
			} `json:"Healthcheck"`
		} `json:"config"`
	}
	if json.Unmarshal(raw, &c) != nil || c.Config.Healthcheck == nil {
		return 0
	}
	return c.Config.Healthcheck.StartInterval
}
