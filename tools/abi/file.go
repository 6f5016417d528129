package abi

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
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
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read module: %w", err)
	}
	if err := checkRegular(path, info); err != nil {
		return nil, err
	}
	if info.Size() > limit {
		return nil, tooLarge(path, fmt.Sprintf("is %d bytes", info.Size()), limit)
	}

	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read module: %w", err)
	}
	defer f.Close()
	// The path may have been replaced between Stat and Open.
	if info, err = f.Stat(); err != nil {
		return nil, fmt.Errorf("read module %s: %w", path, err)
	}
	if err := checkRegular(path, info); err != nil {
		return nil, err
	}
	var content bytes.Buffer
	content.Grow(int(min(info.Size(), limit)) + 1)
	if _, err := content.ReadFrom(io.LimitReader(f, limit+1)); err != nil {
		return nil, fmt.Errorf("read module %s: %w", path, err)
	}
	if int64(content.Len()) > limit {
		return nil, tooLarge(path, "grew while being read", limit)
	}
	return content.Bytes(), nil
}

func checkRegular(path string, info fs.FileInfo) error {
	if info.Mode().IsRegular() {
		return nil
	}
	return fmt.Errorf("read module %s: it is %s, not a regular file; give the path of a "+
		"compiled .wasm file", path, fileKind(info.Mode()))
}

// fileKind names a non-regular file type for an error message.
func fileKind(mode fs.FileMode) string {
	switch {
	case mode.IsDir():
		return "a directory"
	case mode&fs.ModeCharDevice != 0:
		return "a character device"
	case mode&fs.ModeDevice != 0:
		return "a block device"
	case mode&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case mode&fs.ModeSocket != 0:
		return "a socket"
	}
	return "a special file (" + mode.Type().String() + ")"
}

func tooLarge(path, what string, limit int64) error {
	return fmt.Errorf("read module %s: it %s, over the %d MiB limit Istio applies to "+
		"modules (ISTIO_WASM_MAX_BINARY_SIZE_BYTES)", path, what, limit>>20)
}
