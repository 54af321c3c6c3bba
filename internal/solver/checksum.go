package solver

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"strings"
)

// checksum is an ADD --checksum being computed: a hash of one of the
// digest algorithms BuildKit accepts (sha256, sha384, sha512).
type checksum struct {
	algo string
	h    hash.Hash
}

// newChecksum returns the checksum that --checksum=ALGO:HEX asks for; for
// an empty flag one that writes nothing and sums to "".
func newChecksum(flag string) (*checksum, error) {
	if flag == "" {
		return &checksum{}, nil
	}
	algo, hexSum, ok := strings.Cut(flag, ":")
	var h hash.Hash
	size := 0
	switch algo {
	case "sha256":
		h, size = sha256.New(), sha256.Size
	case "sha384":
		h, size = sha512.New384(), sha512.Size384
	case "sha512":
		h, size = sha512.New(), sha512.Size
	}
	if !ok || h == nil {
		return nil, fmt.Errorf("--checksum=%s: want sha256:, sha384: or sha512: and the hex digest", flag)
	}
	if b, err := hex.DecodeString(hexSum); err != nil || len(b) != size || strings.ToLower(hexSum) != hexSum {
		return nil, fmt.Errorf("--checksum=%s: want %d lowercase hex digits after %s:", flag, 2*size, algo)
	}
	return &checksum{algo: algo, h: h}, nil
}

var _ io.Writer = (*checksum)(nil)

// Write hashes p.
func (c *checksum) Write(p []byte) (int, error) {
	if c.h == nil {
		return len(p), nil
	}
	return c.h.Write(p)
}

// sum returns "ALGO:HEX" of what was written, or "" for no checksum.
func (c *checksum) sum() string {
	if c.h == nil {
		return ""
	}
	return c.algo + ":" + hex.EncodeToString(c.h.Sum(nil))
}
