package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// SDKModule is the Proxy-Wasm Go SDK the filters are written against.
const SDKModule = "github.com/tetratelabs/proxy-wasm-go-sdk"

// bridgeFiles are the project's own additions to the SDK copy. They are kept
// as .txt so the Go tool never compiles them as part of this module.
//
//go:embed bridge/*.go.txt
var bridgeFiles embed.FS

// bridgeLayout maps each bridge file to its place in the SDK copy.
var bridgeLayout = map[string]string{
	"bridge/hostcalls_wasip1.go.txt": "proxywasm/internal/abi_hostcalls_wasip1.go",
	"bridge/exports_wasip1.go.txt":   "proxywasm/internal/abi_exports_wasip1.go",
	"bridge/conversions.go.txt":      "proxywasm/internal/hostcall_utils.go",
}

// The SDK's own files the bridge changes in the copy: the
// TinyGo declarations are dropped (the bridge declares the same functions)
// and the in-process mock host is kept out of wasip1 builds.
const (
	tinygoHostcalls = "proxywasm/internal/abi_hostcalls.go"
	mockHostcalls   = "proxywasm/internal/abi_hostcalls_mock.go"
)

type moduleInfo struct {
	Path    string
	Version string
	Dir     string
}

// locateSDK asks the go command where the SDK named by the project's go.mod
// lives in the module cache, downloading it when it is not there yet.
func locateSDK(ctx context.Context, goBin, projectDir string) (*moduleInfo, error) {
	list := func() (*moduleInfo, error) {
		out, err := goCommand(ctx, goBin, projectDir, nil, "list", "-m", "-json", SDKModule)
		if err != nil {
			return nil, fmt.Errorf("find %s in %s/go.mod: %w", SDKModule, projectDir, err)
		}
		var info moduleInfo
		if err := json.Unmarshal(out, &info); err != nil {
			return nil, fmt.Errorf("read go list output for %s: %w", SDKModule, err)
		}
		return &info, nil
	}
	info, err := list()
	if err != nil {
		return nil, err
	}
	if info.Dir == "" {
		_, err := goCommand(ctx, goBin, projectDir, nil, "mod", "download", SDKModule)
		if err != nil {
			return nil, fmt.Errorf("download %s: %w", SDKModule, err)
		}
		if info, err = list(); err != nil {
			return nil, err
		}
	}
	if info.Dir == "" {
		return nil, fmt.Errorf("%s@%s is not in the module cache after download",
			SDKModule, info.Version)
	}
	return info, nil
}

// bridgeKey identifies one prepared copy: the SDK version and the exact
// bridge sources, so a change to either prepares a fresh copy.
func bridgeKey(sdkVersion string) string {
	h := sha256.New()
	fmt.Fprintf(h, "sdk=%s\n", sdkVersion)
	_ = fs.WalkDir(bridgeFiles, "bridge", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, _ := bridgeFiles.ReadFile(path)
		fmt.Fprintf(h, "%s %d\n", path, len(body))
		h.Write(body)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// prepareSDKCopy makes (once per SDK version and bridge revision) a patched
// copy of the SDK under cacheDir and returns its path. The copy is built in
// a temporary folder and renamed into place, so concurrent builds never see
// a half-written copy.
func prepareSDKCopy(sdk *moduleInfo, cacheDir string) (string, error) {
	dest := filepath.Join(cacheDir, fmt.Sprintf("sdk-%s-%s", sdk.Version, bridgeKey(sdk.Version)))
	if _, err := os.Stat(filepath.Join(dest, "go.mod")); err == nil {
		return dest, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("create build cache %s: %w", cacheDir, err)
	}
	tmp, err := os.MkdirTemp(cacheDir, ".sdk-")
	if err != nil {
		return "", fmt.Errorf("create build cache folder: %w", err)
	}
	defer os.RemoveAll(tmp)

	if err := copyTree(sdk.Dir, tmp); err != nil {
		return "", fmt.Errorf("copy %s from the module cache: %w", SDKModule, err)
	}
	if err := patchSDKCopy(tmp); err != nil {
		return "", fmt.Errorf("apply the build bridge to the SDK copy: %w", err)
	}

	if err := os.Rename(tmp, dest); err != nil {
		if _, statErr := os.Stat(filepath.Join(dest, "go.mod")); statErr == nil {
			return dest, nil // another build prepared the same copy first
		}
		return "", fmt.Errorf("move the SDK copy into %s: %w", dest, err)
	}
	return dest, nil
}

var goLine = regexp.MustCompile(`(?m)^go [0-9.]+\s*$`)

var buildLine = regexp.MustCompile(`(?m)^//go:build !tinygo\s*$`)

func patchSDKCopy(dir string) error {
	if err := os.Remove(filepath.Join(dir, tinygoHostcalls)); err != nil {
		return fmt.Errorf("remove TinyGo host-call declarations: %w", err)
	}

	mockPath := filepath.Join(dir, mockHostcalls)
	mock, err := os.ReadFile(mockPath)
	if err != nil {
		return err
	}
	if !buildLine.Match(mock) {
		return fmt.Errorf("%s has no '//go:build !tinygo' line; "+
			"this SDK version is not supported by the bridge", mockHostcalls)
	}
	mock = buildLine.ReplaceAll(mock, []byte("//go:build !tinygo && !wasip1"))
	if err := os.WriteFile(mockPath, mock, 0o644); err != nil {
		return err
	}

	for src, dst := range bridgeLayout {
		body, err := bridgeFiles.ReadFile(src)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, dst), body, 0o644); err != nil {
			return err
		}
	}

	// //go:wasmexport needs the module's language version to be 1.24 or later.
	modPath := filepath.Join(dir, "go.mod")
	mod, err := os.ReadFile(modPath)
	if err != nil {
		return err
	}
	if !goLine.Match(mod) {
		return errors.New("SDK go.mod has no go line")
	}
	mod = goLine.ReplaceAll(mod, []byte("go 1.24"))
	return os.WriteFile(modPath, mod, 0o644)
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		body, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, body, 0o644)
	})
}

// writeWorkspace writes a go.work that uses the project and replaces the SDK
// with the patched copy. go build -overlay cannot do this: the go command
// refuses overlays of files inside the module cache.
func writeWorkspace(
	projectDir, goVersion string, sdk *moduleInfo, sdkCopy, cacheDir string,
) (string, error) {
	sum := sha256.Sum256([]byte(projectDir))
	dir := filepath.Join(cacheDir, "work-"+hex.EncodeToString(sum[:])[:16])
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create workspace folder: %w", err)
	}
	// The replacement is written relative to the workspace: the go command
	// records it in the module's build information, and an absolute path
	// would make the bytes depend on where the cache folder is.
	replacement, err := filepath.Rel(dir, sdkCopy)
	if err != nil {
		return "", err
	}
	body := fmt.Sprintf("go %s\n\nuse %s\n\nreplace %s %s => %s\n", goVersion,
		quoteWorkPath(projectDir), SDKModule, sdk.Version,
		quoteWorkPath(filepath.ToSlash(replacement)))
	path := filepath.Join(dir, "go.work")
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, []byte(body)) {
		return path, nil
	}
	tmp, err := os.CreateTemp(dir, ".go.work-")
	if err != nil {
		return "", err
	}
	if _, err := tmp.WriteString(body); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return "", err
	}
	tmp.Close()
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	return path, nil
}

func quoteWorkPath(p string) string {
	if strings.ContainsAny(p, " \t\"'`") {
		return fmt.Sprintf("%q", p)
	}
	return p
}

// goCommand runs the go command in dir with extra environment and returns
// stdout; on failure the error carries the command's own stderr.
func goCommand(
	ctx context.Context, goBin, dir string, env []string, args ...string,
) ([]byte, error) {
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return nil, fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
		}
		return nil, fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, msg)
	}
	return stdout.Bytes(), nil
}
