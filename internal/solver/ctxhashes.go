package solver

import (
	"fmt"
	"time"

	"github.com/strata-build/strata/internal/buildcontext"
	"github.com/strata-build/strata/internal/progress"
)

// loadHashes gives bctx the content hashes the store kept from earlier
// builds of the same directory, so that digesting it reads only the files
// changed since. A cache that cannot be read is reported and not used: the
// files are read instead.
func (b *builder) loadHashes(bctx *buildcontext.Context) {
	data, err := b.st.ContextHashes(bctx.CacheName())
	if err == nil {
		err = bctx.LoadHashes(data)
	}
	if err != nil {
		b.warn(fmt.Sprintf("[Warning] build context %s: %v; every file is read again", bctx.Dir(), err))
	}
}

// saveHashes keeps bctx's content hashes in the store for the next build,
// when this build hashed files whose hashes were not kept yet.
func (b *builder) saveHashes(bctx *buildcontext.Context) {
	data, changed := bctx.EncodeHashes()
	if !changed {
		return
	}
	if err := b.st.PutContextHashes(bctx.CacheName(), data); err != nil {
		b.warn(fmt.Sprintf("[Warning] build context %s: keeping its file hashes for the next build: %v", bctx.Dir(), err))
	}
}

// warn reports line to the user as a warning of the build.
func (b *builder) warn(line string) {
	b.sink.Event(progress.Event{Status: progress.Info, Line: line, Time: time.Now()})
}
