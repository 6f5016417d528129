# MeshSecOps filters. `make run` is the main job, `make test` passes the tests.
SHELL := /bin/bash
GO ?= go
WASMCTL := bin/wasmctl
# Every folder under filters/ except the shared helpers is a filter.
FILTERS := $(filter-out internal,$(notdir $(patsubst %/,%,$(wildcard filters/*/))))
LISTEN ?= 127.0.0.1:8080
BENCH_RATIOS := $(foreach c,normal normal-long query encoded-unreserved dot-segments dot-segments-query,\
	-ratio 'BenchmarkNormalize/$(c)=BenchmarkBaselinePathClean/$(c)') \
	$(foreach c,normal query dot-segments rejected,\
	-ratio 'BenchmarkCompiledDecision/$(c)=BenchmarkNativeDecision/$(c)') \
	-ratio 'BenchmarkCompiledDecision/normal=BenchmarkHarnessFloor'

.PHONY: all build test test-short run bench vet fmt clean wasmctl

all: build

## wasmctl: build the CLI into bin/ (the go command skips it when nothing changed)
wasmctl:
	$(GO) build -o $(WASMCTL) ./tools/wasmctl

## build: compile every filter to dist/<name>.wasm
build: wasmctl
	@for f in $(FILTERS); do $(WASMCTL) build ./filters/$$f || exit 1; done

## test: vet and run every test (native logic, SDK emulator, compiled .wasm in the harness)
test: vet
	$(GO) test -count=1 -timeout 30m ./...

## test-short: the quick subset (skips the long stress and build tests)
test-short:
	$(GO) test -short ./...

vet:
	$(GO) vet ./...

## run: build the filters and serve the path filter in front of a demo upstream
run: build
	$(WASMCTL) serve --demo --listen $(LISTEN) --filter dist/pathnorm.wasm

## bench: run the benchmarks and print a summary table with same-run ratios
bench:
	set -o pipefail; $(GO) test -run '^$$' -bench . -benchmem -count=1 ./... | $(GO) run ./tools/benchtable $(BENCH_RATIOS)

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf dist bin
