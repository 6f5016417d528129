package abi

import (
	"errors"
	"fmt"

	"github.com/meshsecops/filters/tools/boundedfile"
)

// MaxModuleSize is the largest module read from a file, an image or an
// archive: the default of Istio's ISTIO_WASM_MAX_BINARY_SIZE_BYTES.
const MaxModuleSize = 256 << 20

// ReadModuleFile reads the module at path, following symlinks. Anything but
// a regular file is refused before it is opened: a device such as /dev/zero
// never ends and a named pipe blocks. A file over MaxModuleSize is refused
// too, and at most MaxModuleSize+1 bytes are ever read, so a file that grows
// while being read cannot exhaust memory either.
func ReadModuleFile(path string) ([]byte, error) {
	return readModuleFile(path, MaxModuleSize)
}

func readModuleFile(path string, limit int64) ([]byte, error) {
	content, err := boundedfile.Read(path, "module", limit,
		"give the path of a compiled .wasm file")
	var tooLarge *boundedfile.TooLargeError
	if errors.As(err, &tooLarge) {
		return nil, fmt.Errorf("read module %s: it %s, over the %d MiB limit Istio applies to "+
			"modules (ISTIO_WASM_MAX_BINARY_SIZE_BYTES)", path, tooLarge.Reason, limit>>20)
	}
	return content, err
}
