package solver

import (
	"encoding/json"
	"fmt"
	"time"
)

// go-containerregistry's v1.HealthConfig has no StartInterval (HEALTHCHECK
// --start-interval, Docker 25's field): the state keeps it beside its
// config (state.startInterval) and configJSON writes it into the raw
// config's Healthcheck as BuildKit does, in nanoseconds.

// configJSON returns the state's image config as the image holds it.
func (s *state) configJSON() ([]byte, error) {
	raw, err := json.Marshal(&s.cfg)
	if err != nil || s.startInterval == 0 || s.cfg.Config.Healthcheck == nil {
		return raw, err
	}
	return setRawField(raw, []string{"config", "Healthcheck", "StartInterval"}, int64(s.startInterval))
}

// setRawField sets the field at keys (objects all the way) of the JSON
// object raw to v; the other fields keep their encoding.
func setRawField(raw []byte, keys []string, v any) ([]byte, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("writing %s into the config: %w", keys[len(keys)-1], err)
	}
	var val []byte
	var err error
	if len(keys) == 1 {
		val, err = json.Marshal(v)
	} else {
		inner := obj[keys[0]]
		if len(inner) == 0 || string(inner) == "null" {
			inner = []byte("{}")
		}
		val, err = setRawField(inner, keys[1:], v)
	}
	if err != nil {
		return nil, err
	}
	obj[keys[0]] = val
	return json.Marshal(obj)
}

// startIntervalOf reads Healthcheck.StartInterval from a raw image config
// (0 when absent).
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
