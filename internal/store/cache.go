package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// CacheRecord is a build cache entry. Its Data is the builder's own; the
// store only reads the roots it holds (Blobs and Chains) for GC.
type CacheRecord struct {
	Key     string          `json:"key"` // lower-case hex
	Created time.Time       `json:"created"`
	Blobs   []v1.Hash       `json:"blobs,omitempty"`  // blobs the record needs, kept by GC
	Chains  []v1.Hash       `json:"chains,omitempty"` // layer dirs the record needs, kept by GC
	Data    json.RawMessage `json:"data,omitempty"`   // the builder's content
}

func (s *Store) cachePath(key string) (string, error) {
	if err := checkHexName("cache key", key); err != nil {
		return "", err
	}
	return s.path("cache", key+".json"), nil
}

// GetCache returns the cache record key. A record whose blobs are missing
// (collected, or never written) counts as absent.
func (s *Store) GetCache(key string) (CacheRecord, bool, error) {
	p, err := s.cachePath(key)
	if err != nil {
		return CacheRecord{}, false, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return CacheRecord{}, false, nil
	}
	if err != nil {
		return CacheRecord{}, false, fmt.Errorf("reading cache record %s: %w", key, err)
	}
	var rec CacheRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return CacheRecord{}, false, fmt.Errorf("reading cache record %s: %w", key, err)
	}
	for _, h := range rec.Blobs {
		if !s.HasBlob(h) {
			return CacheRecord{}, false, nil
		}
	}
	return rec, true, nil
}

// PutCache writes rec atomically, replacing any record with the same key.
func (s *Store) PutCache(rec CacheRecord) error {
	p, err := s.cachePath(rec.Key)
	if err != nil {
		return err
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encoding cache record %s: %w", rec.Key, err)
	}
	if err := s.writeFileAtomic(p, b); err != nil {
		return fmt.Errorf("writing cache record %s: %w", rec.Key, err)
	}
	return nil
}

// CacheRecords returns every cache record, ordered by key.
func (s *Store) CacheRecords() ([]CacheRecord, error) {
	ents, err := os.ReadDir(s.path("cache"))
	if err != nil {
		return nil, fmt.Errorf("listing cache records: %w", err)
	}
	var recs []CacheRecord
	for _, e := range ents {
		key, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !e.Type().IsRegular() || !isHex(key) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(s.path("cache"), e.Name()))
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("reading cache record %s: %w", key, err)
		}
		var rec CacheRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			return nil, fmt.Errorf("reading cache record %s: %w", key, err)
		}
		recs = append(recs, rec)
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Key < recs[j].Key })
	return recs, nil
}

// DeleteCache removes the cache record key; an unknown key gives an error
// wrapping ErrNotFound.
func (s *Store) DeleteCache(key string) error {
	p, err := s.cachePath(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); errors.Is(err, os.ErrNotExist) {
		return notFound("no such cache record: %s", key)
	} else if err != nil {
		return fmt.Errorf("deleting cache record %s: %w", key, err)
	}
	return nil
}
