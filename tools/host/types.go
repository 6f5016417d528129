package host

import "fmt"

// Status is proxy_status_t, the result code of every proxy_* host call.
type Status uint32

// Status codes as the spec and proxy-wasm-cpp-host number them. The gaps
// (5, 9, 11) are codes the spec leaves out; BrokenConnection is what Envoy
// reports through proxy_get_status after a failed HTTP callout.
const (
	StatusOK                  Status = 0
	StatusNotFound            Status = 1
	StatusBadArgument         Status = 2
	StatusSerializationFailed Status = 3
	StatusParseFailure        Status = 4
	StatusInvalidMemoryAccess Status = 6
	StatusEmpty               Status = 7
	StatusCASMismatch         Status = 8
	StatusInternalFailure     Status = 10
	StatusBrokenConnection    Status = 11
	StatusUnimplemented       Status = 12
)

func (s Status) String() string {
	switch s {
	case StatusOK:
		return "OK"
	case StatusNotFound:
		return "NOT_FOUND"
	case StatusBadArgument:
		return "BAD_ARGUMENT"
	case StatusSerializationFailed:
		return "SERIALIZATION_FAILURE"
	case StatusParseFailure:
		return "PARSE_FAILURE"
	case StatusInvalidMemoryAccess:
		return "INVALID_MEMORY_ACCESS"
	case StatusEmpty:
		return "EMPTY"
	case StatusCASMismatch:
		return "CAS_MISMATCH"
	case StatusInternalFailure:
		return "INTERNAL_FAILURE"
	case StatusBrokenConnection:
		return "BROKEN_CONNECTION"
	case StatusUnimplemented:
		return "UNIMPLEMENTED"
	}
	return fmt.Sprintf("STATUS(%d)", uint32(s))
}

// LogLevel is proxy_log_level_t. Its zero value, LogTrace, captures
// everything; Envoy's own default is LogInfo and Istio's is LogWarn.
type LogLevel uint32

// Log levels in the order the spec numbers them.
const (
	LogTrace LogLevel = iota
	LogDebug
	LogInfo
	LogWarn
	LogError
	LogCritical
)

var logLevelNames = [...]string{"trace", "debug", "info", "warn", "error", "critical"}

func (l LogLevel) String() string {
	if int(l) < len(logLevelNames) {
		return logLevelNames[l]
	}
	return fmt.Sprintf("level(%d)", uint32(l))
}

// MarshalText writes the level's name, so JSON output reads "info".
func (l LogLevel) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText accepts a level name as String writes it.
func (l *LogLevel) UnmarshalText(text []byte) error {
	for i, name := range logLevelNames {
		if string(text) == name {
			*l = LogLevel(i)
			return nil
		}
	}
	return fmt.Errorf("unknown log level %q: want one of trace, debug, info, warn, error, critical",
		text)
}

// MapType is proxy_map_type_t: which header map a host call addresses.
type MapType uint32

// Header map types.
const (
	MapRequestHeaders           MapType = 0
	MapRequestTrailers          MapType = 1
	MapResponseHeaders          MapType = 2
	MapResponseTrailers         MapType = 3
	MapGRPCInitialMetadata      MapType = 4
	MapGRPCTrailingMetadata     MapType = 5
	MapHTTPCallResponseHeaders  MapType = 6
	MapHTTPCallResponseTrailers MapType = 7
	mapTypeMax                          = MapHTTPCallResponseTrailers
)

// BufferType is proxy_buffer_type_t: which byte buffer a host call
// addresses.
type BufferType uint32

// Buffer types.
const (
	BufferHTTPRequestBody      BufferType = 0
	BufferHTTPResponseBody     BufferType = 1
	BufferDownstreamData       BufferType = 2
	BufferUpstreamData         BufferType = 3
	BufferHTTPCallResponseBody BufferType = 4
	BufferGRPCReceive          BufferType = 5
	BufferVMConfiguration      BufferType = 6
	BufferPluginConfiguration  BufferType = 7
	BufferCallData             BufferType = 8
	bufferTypeMax                         = BufferCallData
)

// StreamType is proxy_stream_type_t, the argument of proxy_continue_stream
// and proxy_close_stream.
type StreamType uint32

// Stream types.
const (
	StreamRequest    StreamType = 0
	StreamResponse   StreamType = 1
	StreamDownstream StreamType = 2
	StreamUpstream   StreamType = 3
	streamTypeMax               = StreamUpstream
)

// MetricType is proxy_metric_type_t.
type MetricType uint32

// Metric types.
const (
	MetricCounter   MetricType = 0
	MetricGauge     MetricType = 1
	MetricHistogram MetricType = 2
)

func (m MetricType) String() string {
	switch m {
	case MetricCounter:
		return "counter"
	case MetricGauge:
		return "gauge"
	case MetricHistogram:
		return "histogram"
	}
	return fmt.Sprintf("metric(%d)", uint32(m))
}

// FailState is cpp-host's FailState: why a VM stopped being usable.
type FailState int

// Fail states as numbered in proxy-wasm-cpp-host wasm_vm.h.
const (
	FailOK                     FailState = 0
	FailUnableToCreateVM       FailState = 1
	FailUnableToCloneVM        FailState = 2
	FailMissingFunction        FailState = 3
	FailUnableToInitializeCode FailState = 4
	FailStartFailed            FailState = 5
	FailConfigureFailed        FailState = 6
	FailRuntimeError           FailState = 7
)

func (f FailState) String() string {
	switch f {
	case FailOK:
		return "ok"
	case FailUnableToCreateVM:
		return "unable to create VM"
	case FailUnableToCloneVM:
		return "unable to clone VM"
	case FailMissingFunction:
		return "missing function"
	case FailUnableToInitializeCode:
		return "unable to initialize code"
	case FailStartFailed:
		return "start failed"
	case FailConfigureFailed:
		return "configure failed"
	case FailRuntimeError:
		return "runtime error"
	}
	return fmt.Sprintf("fail state %d", int(f))
}

// Action is what a stream callback told the filter manager, after the
// conversion cpp-host applies (context.cc convertVmCallResultTo...).
type Action int

const (
	// ActionContinue passes the headers or data on to the next filter.
	ActionContinue Action = iota
	// ActionPause stops iteration. On headers it is Envoy's
	// StopAllIterationAndWatermark (headers and body held) unless the plugin
	// allows StopIteration; on data it is StopIterationAndBuffer (the body
	// accumulates and the next callback sees all of it).
	ActionPause
	// ActionPauseHeadersOnly is Envoy's StopIteration on headers, returned
	// only with PluginConfig.AllowOnHeadersStopIteration: headers are held
	// but body callbacks still run.
	ActionPauseHeadersOnly
	// ActionPauseNoBuffer is StopIterationNoBuffer on data: the chunk is
	// neither passed on nor kept. Fail-closed data callbacks return it.
	ActionPauseNoBuffer
)

func (a Action) String() string {
	switch a {
	case ActionContinue:
		return "continue"
	case ActionPause:
		return "pause"
	case ActionPauseHeadersOnly:
		return "pause_headers_only"
	case ActionPauseNoBuffer:
		return "pause_no_buffer"
	}
	return fmt.Sprintf("action(%d)", int(a))
}

// MarshalText writes the action's name.
func (a Action) MarshalText() ([]byte, error) { return []byte(a.String()), nil }
