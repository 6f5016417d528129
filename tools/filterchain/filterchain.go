// Package filterchain loads compiled filters into the harness as one chain,
// the way `wasmctl replay` and `wasmctl serve` take them from the command
// line: a list of .wasm files in chain order, each with its own
// configuration.
package filterchain

import (
	"context"
	"errors"
	"fmt"
	"github.com/meshsecops/filters/tools/abi"
	"github.com/meshsecops/filters/tools/boundedfile"
	"path/filepath"
	"strings"
	"time"

	"github.com/meshsecops/filters/tools/host"
)

// Filter is one filter of a chain.
type Filter struct {
	// Path is the compiled module.
	Path string
	// Config is the plugin configuration (JSON), possibly empty.
	Config []byte
}

// Options apply to every filter of the chain.
type Options struct {
	// Clock is the time the guests see; nil is the wall clock.
	Clock func() time.Time
	// Workers is the number of VMs per filter; 0 means 1.
	Workers int
	// FailOpen lets requests through a filter whose VM failed; otherwise
	// they get 503 (Envoy's FAIL_CLOSED).
	FailOpen bool
	// LogLevel drops filter log lines below it.
	LogLevel host.LogLevel
	// LogSink receives every line as it is logged (see host.PluginConfig).
	LogSink func(host.LogEntry)
	// ChunkSize splits bodies given in one piece; 0 is the harness default.
	ChunkSize int
}

// Name is the plugin name a filter gets: its file name without .wasm.
func Name(path string) string {
	return strings.TrimSuffix(filepath.Base(path), ".wasm")
}

// Load reads and starts every filter, in order, and returns the chain. A
// filter that fails to start (bad module, rejected configuration) is an
// error naming the file, with the filter's own log lines.
func Load(ctx context.Context, filters []Filter, opts Options) (*host.Chain, error) {
	if len(filters) == 0 {
		return nil, errors.New("no filters: give at least one --filter FILE.wasm")
	}
	proxy := host.NewProxy()
	var plugins []*host.Plugin
	for _, f := range filters {
		module, err := abi.ReadModuleFile(f.Path)
		if err != nil {
			return nil, err
		}
		// Keep what the filter logs while it starts: when it refuses to
		// start, its own words say why (the field of a bad configuration).
		var startup []string
		sink := func(entry host.LogEntry) {
			if entry.Level >= host.LogWarn {
				startup = append(startup, entry.Level.String()+": "+entry.Message)
			}
			if opts.LogSink != nil {
				opts.LogSink(entry)
			}
		}
		plugin, err := host.NewPlugin(ctx, module, host.PluginConfig{
			Name:          Name(f.Path),
			Configuration: f.Config,
			FailOpen:      opts.FailOpen,
			Workers:       opts.Workers,
			Clock:         opts.Clock,
			LogLevel:      opts.LogLevel,
			LogSink:       sink,
			Proxy:         proxy,
		})
		if err != nil {
			if len(startup) > 0 {
				return nil, fmt.Errorf("start filter %s: %w; the filter logged:\n  %s", f.Path, err,
					strings.Join(startup, "\n  "))
			}
			return nil, fmt.Errorf("start filter %s: %w", f.Path, err)
		}
		plugins = append(plugins, plugin)
	}
	return host.NewChain(host.ChainOptions{ChunkSize: opts.ChunkSize}, plugins...), nil
}

// maxConfigSize bounds a configuration read from a file.
const maxConfigSize = 16 << 20

// ReadConfigArg turns a --config value into the configuration bytes: inline
// JSON, or @FILE to read it from a file.
func ReadConfigArg(arg string) ([]byte, error) {
	if name, ok := strings.CutPrefix(arg, "@"); ok {
		return boundedfile.Read(name, "configuration", maxConfigSize, "give a JSON file")
	}
	return []byte(arg), nil
}

// ParseNow reads a --now value: RFC 3339 or Unix seconds.
func ParseNow(value string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, value); err == nil {
		return t, nil
	}
	var secs int64
	if _, err := fmt.Sscanf(value, "%d", &secs); err == nil && fmt.Sprint(secs) == value {
		return time.Unix(secs, 0).UTC(), nil
	}
	return time.Time{}, fmt.Errorf(
		"--now %q: want RFC 3339 (2026-01-02T15:04:05Z) or Unix seconds", value)
}

// PairFilters matches --filter and --config flags given in command-line
// order: each --config applies to the --filter before it. args are the
// flags as ("filter"|"config", value) in order.
func PairFilters(args [][2]string) ([]Filter, error) {
	var filters []Filter
	for _, a := range args {
		switch a[0] {
		case "filter":
			filters = append(filters, Filter{Path: a[1]})
		case "config":
			if len(filters) == 0 {
				return nil, errors.New("--config comes before any --filter: " +
					"give --filter FILE.wasm first, then its --config")
			}
			last := &filters[len(filters)-1]
			if last.Config != nil {
				return nil, fmt.Errorf("two --config values for %s", last.Path)
			}
			config, err := ReadConfigArg(a[1])
			if err != nil {
				return nil, err
			}
			if config == nil {
				config = []byte{}
			}
			last.Config = config
		default:
			return nil, fmt.Errorf("unknown flag %q", a[0])
		}
	}
	return filters, nil
}
