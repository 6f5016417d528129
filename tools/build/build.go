// Package build compiles a filter package to a Proxy-Wasm module.
//
// With standard Go (the default) it builds a WASI reactor
// (GOOS=wasip1 GOARCH=wasm -buildmode=c-shared) against a patched copy of
// the Proxy-Wasm Go SDK: the SDK supports only TinyGo as published, so the
// build bridge adds //go:wasmimport host calls, //go:wasmexport entry points
// and GC-safe conversions to a copy prepared in the user's cache folder.
// The SDK's own code is never part of this repository.
//
// # Limits
//
//   - The bridge targets proxy-wasm-go-sdk v0.24.0; another SDK version is
//     patched only if it keeps the same internal file layout.
//   - The TinyGo toolchain path uses the unmodified SDK and is not tested
//     here: TinyGo cannot be installed on the machines this project is built
//     and tested on.
//   - Modules need Envoy 1.33 or later (Istio 1.25 or later), the first
//     releases that run Go's wasip1 reactors.
package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/meshsecops/filters/tools/abi"
)

// Toolchains accepted by Options.Toolchain.
const (
	ToolchainGo     = "go"
	ToolchainTinyGo = "tinygo"
)

// MinGoVersion is the first Go release with //go:wasmexport and wasip1
// reactors (-buildmode=c-shared).
const MinGoVersion = "1.24"

// Options describes one build.
type Options struct {
	// Package is the filter to build: a package path relative to ProjectDir
	// ("./filters/pathnorm") or a filter name ("pathnorm") under filters/.
	Package string
	// ProjectDir is the module root holding go.mod; default: the current
	// folder.
	ProjectDir string
	// Output is the .wasm path; default dist/<filter>.wasm under ProjectDir.
	Output string
	// Toolchain is "go" (default) or "tinygo".
	Toolchain string
	// Optimize runs wasm-opt on the result when it is installed.
	Optimize bool
	// CacheDir holds the patched SDK copy; default: <user cache>/meshsecops-wasmctl.
	CacheDir string
	// Notices receives messages for the user (missing wasm-opt, untested
	// toolchain); nil discards them.
	Notices io.Writer
}

// Result describes a built module.
type Result struct {
	Path      string `json:"path"`
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"`
	Toolchain string `json:"toolchain"`
	Optimized bool   `json:"optimized"`
}

// Build compiles opts.Package to a Proxy-Wasm module and returns where it
// was written with its size and sha256. The same sources and toolchain give
// the same bytes. A module Envoy would refuse (abi.Inspect finds problems,
// as for a package main that does not use the Proxy-Wasm SDK) is an error
// and is not written.
func Build(ctx context.Context, opts Options) (*Result, error) {
	notices := opts.Notices
	if notices == nil {
		notices = io.Discard
	}
	projectDir, pkg, name, err := resolvePackage(opts.ProjectDir, opts.Package)
	if err != nil {
		return nil, err
	}
	output := opts.Output
	if output == "" {
		output = filepath.Join(projectDir, "dist", name+".wasm")
	}
	if output, err = filepath.Abs(output); err != nil {
		return nil, err
	}
	if st, statErr := os.Stat(output); statErr == nil && st.IsDir() {
		return nil, fmt.Errorf("output %s is a folder: give a file name such as %s",
			output, filepath.Join(output, name+".wasm"))
	}
	if err := os.MkdirAll(filepath.Dir(output), 0o755); err != nil {
		return nil, fmt.Errorf("create output folder: %w", err)
	}
	// Build into a temporary file beside the output so a failed build never
	// leaves a truncated module behind.
	tmp, err := os.CreateTemp(filepath.Dir(output), "."+filepath.Base(output)+".*")
	if err != nil {
		return nil, fmt.Errorf("create output file: %w", err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())

	toolchain := opts.Toolchain
	switch toolchain {
	case "", ToolchainGo:
		toolchain = ToolchainGo
		err = buildWithGo(ctx, opts, projectDir, pkg, tmp.Name())
	case ToolchainTinyGo:
		fmt.Fprintln(notices, "notice: the TinyGo toolchain path uses the unmodified SDK "+
			"and is untested in this project's CI")
		err = buildWithTinyGo(ctx, projectDir, pkg, tmp.Name())
	default:
		return nil, fmt.Errorf("unknown toolchain %q (want go or tinygo)", opts.Toolchain)
	}
	if err != nil {
		return nil, err
	}

	optimized := false
	if opts.Optimize {
		if optimized, err = optimize(ctx, tmp.Name(), notices); err != nil {
			return nil, err
		}
	}
	module, err := checkModule(tmp.Name(), pkg)
	if err != nil {
		return nil, err
	}
	if err := os.Rename(tmp.Name(), output); err != nil {
		return nil, fmt.Errorf("write %s: %w", output, err)
	}
	sum := sha256.Sum256(module)
	return &Result{
		Path:      output,
		Size:      int64(len(module)),
		SHA256:    hex.EncodeToString(sum[:]),
		Toolchain: toolchain,
		Optimized: optimized,
	}, nil
}

// checkModule reads the compiled module and refuses one Envoy would refuse.
// Any package main compiles, but without the SDK's entry points (no ABI
// marker, no allocator) the result is no Proxy-Wasm filter at all.
func checkModule(path, pkg string) ([]byte, error) {
	module, err := abi.ReadModuleFile(path)
	if err != nil {
		return nil, fmt.Errorf("check the module built from %s: %w", pkg, err)
	}
	report, err := abi.Inspect(module)
	if err != nil {
		return nil, fmt.Errorf("check the module built from %s: %w", pkg, err)
	}
	if problems := report.Problems(); len(problems) > 0 {
		return nil, fmt.Errorf("%s compiled, but Envoy would refuse the module, so it was not "+
			"written: %s (is it a Proxy-Wasm filter? does the package call "+
			"proxywasm.SetVMContext from init?)", pkg, strings.Join(problems, "; "))
	}
	return module, nil
}

// resolvePackage finds the module root and turns the user's package
// argument into a "./..." path the go command accepts there.
func resolvePackage(projectDir, pkg string) (root, rel, name string, err error) {
	if projectDir == "" {
		projectDir = "."
	}
	if root, err = filepath.Abs(projectDir); err != nil {
		return "", "", "", err
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return "", "", "", fmt.Errorf("no go.mod in %s: run wasmctl build from the project root "+
			"or pass --project-dir", root)
	}
	if pkg == "" {
		return "", "", "", errors.New("no filter package given: pass a path like " +
			"./filters/pathnorm or a filter name like pathnorm")
	}
	candidates := []string{pkg}
	if !strings.ContainsAny(pkg, `/\`) {
		candidates = []string{filepath.Join("filters", pkg), pkg}
	}
	for _, c := range candidates {
		dir := c
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(root, c)
		}
		if st, statErr := os.Stat(dir); statErr == nil && st.IsDir() {
			r, relErr := filepath.Rel(root, dir)
			if relErr != nil || strings.HasPrefix(r, "..") {
				return "", "", "", fmt.Errorf("package %s is outside the project %s", pkg, root)
			}
			return root, "./" + filepath.ToSlash(r), filepath.Base(dir), nil
		}
	}
	return "", "", "", fmt.Errorf("filter package %q not found under %s (try ./filters/<name>)",
		pkg, root)
}

func buildWithGo(ctx context.Context, opts Options, projectDir, pkg, output string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("the go command was not found on PATH: install Go %s or newer",
			MinGoVersion)
	}
	goVersion, err := toolchainVersion(ctx, goBin, projectDir)
	if err != nil {
		return err
	}
	if !atLeast(goVersion, MinGoVersion) {
		return fmt.Errorf("Go %s is too old: building Proxy-Wasm reactors needs Go %s "+
			"or newer (//go:wasmexport)", goVersion, MinGoVersion)
	}

	cacheDir := opts.CacheDir
	if cacheDir == "" {
		// Without HOME or XDG_CACHE_HOME (some CI runners and containers)
		// the temporary folder serves; the copy is only a cache.
		userCache, err := os.UserCacheDir()
		if err != nil {
			userCache = os.TempDir()
		}
		cacheDir = filepath.Join(userCache, "meshsecops-wasmctl")
	}
	sdk, err := locateSDK(ctx, goBin, projectDir)
	if err != nil {
		return err
	}
	sdkCopy, err := prepareSDKCopy(sdk, cacheDir)
	if err != nil {
		return err
	}
	modGo, err := moduleGoVersion(filepath.Join(projectDir, "go.mod"))
	if err != nil {
		return err
	}
	work, err := writeWorkspace(projectDir, modGo, sdk, sdkCopy, cacheDir)
	if err != nil {
		return err
	}

	env := []string{"GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOWORK=" + work, "GOFLAGS="}
	args := []string{"build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false",
		"-ldflags=-buildid=", "-o", output, pkg}
	if _, err := goCommand(ctx, goBin, projectDir, env, args...); err != nil {
		return fmt.Errorf("compile %s: %w", pkg, err)
	}
	return nil
}

func buildWithTinyGo(ctx context.Context, projectDir, pkg, output string) error {
	bin, err := exec.LookPath("tinygo")
	if err != nil {
		return errors.New("tinygo was not found on PATH: install TinyGo, " +
			"or build with the default --toolchain go")
	}
	cmd := exec.CommandContext(ctx, bin, "build", "-o", output, "-target=wasi", "-scheduler=none",
		"-no-debug", pkg)
	cmd.Dir = projectDir
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("compile %s with tinygo: %w\n%s",
			pkg, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// wasm-opt needs the features Go's wasm output uses enabled explicitly.
var wasmOptFeatures = []string{"--enable-bulk-memory", "--enable-sign-ext",
	"--enable-nontrapping-float-to-int", "--enable-mutable-globals"}

func optimize(ctx context.Context, path string, notices io.Writer) (bool, error) {
	bin, err := exec.LookPath("wasm-opt")
	if err != nil {
		fmt.Fprintln(notices, "notice: --optimize skipped: wasm-opt (binaryen) is not installed; "+
			"the module is unoptimized")
		return false, nil
	}
	out := path + ".opt"
	defer os.Remove(out)
	args := append([]string{"-O2"}, wasmOptFeatures...)
	args = append(args, path, "-o", out)
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return false, fmt.Errorf("wasm-opt: %w\n%s", err, strings.TrimSpace(stderr.String()))
	}
	if err := os.Rename(out, path); err != nil {
		return false, err
	}
	return true, nil
}

func toolchainVersion(ctx context.Context, goBin, dir string) (string, error) {
	out, err := goCommand(ctx, goBin, dir, nil, "env", "GOVERSION")
	if err != nil {
		return "", fmt.Errorf("ask the go command for its version: %w", err)
	}
	v := strings.TrimPrefix(strings.TrimSpace(string(out)), "go")
	if v == "" {
		return "", errors.New("the go command did not report its version")
	}
	return v, nil
}

var versionNumbers = regexp.MustCompile(`^(\d+)\.(\d+)`)

// atLeast compares the major and minor numbers of two Go versions.
func atLeast(version, min string) bool {
	v := versionNumbers.FindStringSubmatch(version)
	m := versionNumbers.FindStringSubmatch(min)
	if v == nil || m == nil {
		return false
	}
	vMajor, _ := strconv.Atoi(v[1])
	vMinor, _ := strconv.Atoi(v[2])
	mMajor, _ := strconv.Atoi(m[1])
	mMinor, _ := strconv.Atoi(m[2])
	return vMajor > mMajor || (vMajor == mMajor && vMinor >= mMinor)
}

var goDirective = regexp.MustCompile(`(?m)^go\s+([0-9][0-9.]*)\s*$`)

func moduleGoVersion(goMod string) (string, error) {
	body, err := os.ReadFile(goMod)
	if err != nil {
		return "", err
	}
	m := goDirective.FindSubmatch(body)
	if m == nil {
		return "", fmt.Errorf("%s has no go directive", goMod)
	}
	return string(m[1]), nil
}
