package registry

import (
	"io"
	"log"
	"os"
)

func nilLogger() *log.Logger { return log.New(io.Discard, "", 0) }

func readDir(dir string) ([]string, error) {
	es, err := os.ReadDir(dir)
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names, err
}
