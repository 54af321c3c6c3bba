package registry

import (
	"fmt"
	"testing"
)

func TestZZDebug(t *testing.T) {
	for i := 0; i < 15; i++ {
		t.Run(fmt.Sprint(i), TestPushRetriesDroppedUploads)
	}
}
