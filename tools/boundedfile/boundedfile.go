// Package boundedfile reads files a user names on the command line without
// trusting them to be small or finite: anything but a regular file (a
// device such as /dev/zero never ends, a named pipe blocks) is refused
// before it is opened, and no more than a limit is ever read.
package boundedfile

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Read reads the regular file at path, following symlinks, refusing it
// when it holds more than limit bytes. what names the file in errors
// ("module", "configuration"); hint, when set, ends the error for a file
// that is not regular (what to give instead).
func Read(path, what string, limit int64, hint string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	if err := checkRegular(path, what, info, hint); err != nil {
		return nil, err
	}
	if info.Size() > limit {
		return nil, &TooLargeError{Path: path, What: what, Limit: limit,
			Reason: fmt.Sprintf("is %d bytes", info.Size())}
	}

	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	defer f.Close()
	// The path may have been replaced between Stat and Open.
	if info, err = f.Stat(); err != nil {
		return nil, fmt.Errorf("read %s %s: %w", what, path, err)
	}
	if err := checkRegular(path, what, info, hint); err != nil {
		return nil, err
	}
	var content bytes.Buffer
	content.Grow(int(min(info.Size(), limit)) + 1)
	if _, err := content.ReadFrom(io.LimitReader(f, limit+1)); err != nil {
		return nil, fmt.Errorf("read %s %s: %w", what, path, err)
	}
	if int64(content.Len()) > limit {
		return nil, &TooLargeError{
			Path: path, What: what, Limit: limit, Reason: "grew while being read",
		}
	}
	return content.Bytes(), nil
}

// TooLargeError is a file over the limit.
type TooLargeError struct {
	Path, What, Reason string
	Limit              int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("read %s %s: it %s, over the limit of %s", e.What, e.Path, e.Reason,
		size(e.Limit))
}

func size(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

func checkRegular(path, what string, info fs.FileInfo, hint string) error {
	if info.Mode().IsRegular() {
		return nil
	}
	msg := fmt.Sprintf("read %s %s: it is %s, not a regular file", what, path, kind(info.Mode()))
	if hint != "" {
		msg += "; " + hint
	}
	return fmt.Errorf("%s", msg)
}

// kind names a non-regular file type for an error message.
func kind(mode fs.FileMode) string {
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
