package build

import (
	"bytes"
	"context"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func projectRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("project root not found at %s: %v", root, err)
	}
	return root
}

// The bridge sources are stored as .txt; they must still be valid Go that
// declares the package the SDK copy expects and the wasip1 constraint.
func TestBridgeSourcesAreGo(t *testing.T) {
	for src, dst := range bridgeLayout {
		body, err := bridgeFiles.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(token.NewFileSet(), dst, body, parser.ParseComments)
		if err != nil {
			t.Fatalf("%s does not parse: %v", src, err)
		}
		if f.Name.Name != "internal" {
			t.Errorf("%s declares package %s, want internal", src, f.Name.Name)
		}
		constrained := bytes.Contains(body, []byte("\n//go:build wasip1\n"))
		if strings.Contains(src, "wasip1") && !constrained {
			t.Errorf("%s lacks the //go:build wasip1 constraint", src)
		}
	}
}

func TestAtLeast(t *testing.T) {
	cases := []struct {
		version, min string
		want         bool
	}{
		{"1.24", "1.24", true},
		{"1.24.3", "1.24", true},
		{"1.26.8", "1.24", true},
		{"1.23.9", "1.24", false},
		{"1.9", "1.24", false},
		{"2.0", "1.24", true},
		{"devel", "1.24", false},
	}
	for _, c := range cases {
		if got := atLeast(c.version, c.min); got != c.want {
			t.Errorf("atLeast(%q, %q) = %v, want %v", c.version, c.min, got, c.want)
		}
	}
}

func TestResolvePackage(t *testing.T) {
	root := projectRoot(t)
	_, rel, name, err := resolvePackage(root, "./tools/build/testdata/minimal")
	if err != nil || rel != "./tools/build/testdata/minimal" || name != "minimal" {
		t.Fatalf("resolvePackage = %q %q %v", rel, name, err)
	}
	if _, _, _, err := resolvePackage(root, "no-such-filter"); err == nil ||
		!strings.Contains(err.Error(), "not found") {
		t.Fatalf("missing filter: err = %v, want a not found error", err)
	}
	if _, _, _, err := resolvePackage(root, ""); err == nil {
		t.Fatal("empty package accepted")
	}
	if _, _, _, err := resolvePackage(t.TempDir(), "x"); err == nil ||
		!strings.Contains(err.Error(), "no go.mod") {
		t.Fatalf("folder without go.mod: err = %v", err)
	}
}

// Building the same sources twice, into different files and with the SDK
// copy prepared from scratch, must give identical bytes.
func TestBuildIsReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a module twice")
	}
	root := projectRoot(t)
	ctx := context.Background()
	out := t.TempDir()
	first, err := Build(ctx, Options{Package: "./tools/build/testdata/minimal", ProjectDir: root,
		Output: filepath.Join(out, "a.wasm"), CacheDir: filepath.Join(out, "cache-a")})
	if err != nil {
		t.Fatal(err)
	}
	second, err := Build(ctx, Options{Package: "./tools/build/testdata/minimal", ProjectDir: root,
		Output: filepath.Join(out, "b.wasm"), CacheDir: filepath.Join(out, "cache-b")})
	if err != nil {
		t.Fatal(err)
	}
	if first.SHA256 != second.SHA256 || first.Size != second.Size {
		t.Fatalf("two builds differ: %s (%d bytes) vs %s (%d bytes)", first.SHA256, first.Size,
			second.SHA256, second.Size)
	}
	body, err := os.ReadFile(first.Path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(body, []byte("\x00asm")) {
		t.Fatal("output is not a WebAssembly module")
	}
	for _, export := range []string{"proxy_abi_version_0_2_0", "proxy_on_memory_allocate",
		"proxy_on_request_headers", "_initialize"} {
		if !bytes.Contains(body, []byte(export)) {
			t.Errorf("module lacks export %s", export)
		}
	}
	if first.Size < 100_000 {
		t.Errorf("module is only %d bytes; the SDK and runtime are missing", first.Size)
	}
}

// A compile error names the package and carries the compiler's own message.
func TestBuildReportsCompileErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the compiler")
	}
	root := projectRoot(t)
	pkgDir, err := os.MkdirTemp(filepath.Join(root, "tools", "build", "testdata"), "broken-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(pkgDir)
	src := "package main\n\nfunc main() { undefinedThing() }\n"
	if err := os.WriteFile(filepath.Join(pkgDir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	rel := "./tools/build/testdata/" + filepath.Base(pkgDir)
	out := t.TempDir()
	_, err = Build(context.Background(), Options{Package: rel, ProjectDir: root,
		Output: filepath.Join(out, "x.wasm"), CacheDir: filepath.Join(out, "cache")})
	if err == nil {
		t.Fatal("broken package compiled")
	}
	msg := err.Error()
	if !strings.Contains(msg, rel) || !strings.Contains(msg, "undefined: undefinedThing") {
		t.Fatalf("error does not name the package and the compiler's message:\n%s", msg)
	}
	if _, statErr := os.Stat(filepath.Join(out, "x.wasm")); statErr == nil {
		t.Fatal("a failed build left an output file behind")
	}
}

func TestOptimizeWithoutWasmOptSaysSo(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	var notices bytes.Buffer
	path := filepath.Join(t.TempDir(), "m.wasm")
	if err := os.WriteFile(path, []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	done, err := optimize(context.Background(), path, &notices)
	if err != nil || done {
		t.Fatalf("optimize = %v, %v; want skipped without error", done, err)
	}
	if !strings.Contains(notices.String(), "wasm-opt") {
		t.Fatalf("no notice about the missing wasm-opt: %q", notices.String())
	}
}

func TestMissingGoIsExplained(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	err := buildWithGo(context.Background(), Options{}, projectRoot(t), "./x",
		filepath.Join(t.TempDir(), "x"))
	if err == nil || !strings.Contains(err.Error(), "go command was not found") {
		t.Fatalf("err = %v", err)
	}
}

func TestUnknownToolchain(t *testing.T) {
	_, err := Build(context.Background(), Options{Package: "./tools/build/testdata/minimal",
		ProjectDir: projectRoot(t), Output: filepath.Join(t.TempDir(), "x.wasm"), Toolchain: "gcc"})
	if err == nil || !strings.Contains(err.Error(), "unknown toolchain") {
		t.Fatalf("err = %v", err)
	}
}

func TestOptimizeWithWasmOpt(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a module")
	}
	if _, err := exec.LookPath("wasm-opt"); err != nil {
		t.Skip("wasm-opt (binaryen) is not installed")
	}
	out := t.TempDir()
	plain, err := Build(context.Background(), Options{Package: "./tools/build/testdata/minimal",
		ProjectDir: projectRoot(t), Output: filepath.Join(out, "plain.wasm")})
	if err != nil {
		t.Fatal(err)
	}
	opt, err := Build(context.Background(), Options{Package: "./tools/build/testdata/minimal",
		ProjectDir: projectRoot(t), Output: filepath.Join(out, "opt.wasm"), Optimize: true})
	if err != nil {
		t.Fatal(err)
	}
	if !opt.Optimized || opt.SHA256 == plain.SHA256 || opt.Size >= plain.Size {
		t.Fatalf("optimized build %+v is not an optimized variant of %+v", opt, plain)
	}
}

func TestOutputFolderIsExplained(t *testing.T) {
	dir := t.TempDir()
	_, err := Build(context.Background(), Options{Package: "./tools/build/testdata/minimal",
		ProjectDir: projectRoot(t), Output: dir})
	if err == nil || !strings.Contains(err.Error(), "is a folder") ||
		!strings.Contains(err.Error(), filepath.Join(dir, "minimal.wasm")) {
		t.Fatalf("err = %v", err)
	}
}
