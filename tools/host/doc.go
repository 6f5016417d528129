// Package host is a Proxy-Wasm host on wazero that loads a plugin module
// and drives it the way Envoy's proxy-wasm-cpp-host does, so tests and
// tools (wasmctl replay and serve) can run compiled filters without Envoy.
//
// NewPlugin checks and starts a module (base VM, canary, one VM per
// worker); Plugin.VM and VM.NewHTTPStream drive callbacks one by one; a
// Chain runs whole requests through several plugins as Envoy's filter
// manager does and reports a Result per request.
//
// # Fidelity
//
// What matches proxy-wasm-cpp-host (src/wasm.cc, src/context.cc,
// src/exports.cc, src/pairs_util.cc) and Envoy's Wasm extension
// (source/extensions/common/wasm/context.cc):
//
//   - Module checks before instantiation (via package abi): an ABI marker
//     (0.2.0 or 0.2.1), an allocator (malloc, else proxy_on_memory_allocate),
//     imports Envoy links for that ABI with the same signatures. Envoy's
//     env and WASI functions are host functions here; there is no file
//     system, and an import outside Envoy's set fails to load.
//   - Start-up: a base VM runs _initialize (then main or __main_void), a
//     canary VM runs _initialize, proxy_on_context_create(root, 0),
//     proxy_on_vm_start and proxy_on_configure and is thrown away, then each
//     worker VM does the same. During _initialize only proxy_log and the
//     WASI calls cpp-host lists are allowed, during the allocator only
//     logging, fd_write, clock_time_get and poll_oneoff; anything else traps
//     with restricted_callback. False from proxy_on_vm_start or
//     proxy_on_configure rejects the plugin.
//   - Context ids count from 1 per VM; the root context is 1.
//   - Plugin configuration is readable during proxy_on_configure and the
//     root's first proxy_on_context_create only (Envoy's temp_plugin_); VM
//     configuration is readable in every callback, as in Envoy (the spec
//     restricts it to proxy_on_vm_start, Envoy does not).
//   - Header maps: lowercase keys, pseudo-headers first, the first value
//     from proxy_get_header_map_value, NotFound for a missing key,
//     BadArgument for a map the current callback cannot see (request
//     headers once they were passed on, response maps during the request).
//     Maps read in proxy_on_log are the final ones. The pair serialization
//     and its decode limits (1 MiB, 1024 pairs; a refused map is empty).
//   - Buffers: get_buffer_bytes clamps start and length, set_buffer_bytes
//     prepends, appends or replaces exactly as Envoy's Buffer::copyFrom;
//     after Pause the body accumulates and the next callback sees all of
//     it; HTTP call bodies are readable only in proxy_on_http_call_response.
//   - Callback answers are converted as cpp-host does: Pause on headers is
//     StopAllIterationAndWatermark unless AllowOnHeadersStopIteration, a
//     local reply stops iteration whatever the callback returned.
//   - Properties: NUL-separated paths, Envoy's value encoding, the
//     connection (SPIFFE ID, certificate digest, mtls), source,
//     destination, request, response, node and plugin attributes, filter
//     state set by proxy_set_property and shared by the chain's filters.
//   - Shared data with CAS tokens and shared queues per VM id, shared by
//     all VMs of a Proxy (all workers); proxy_on_queue_ready goes to the
//     VM that registered last. Stats by name, ids per VM with the type in
//     the low bits. HTTP callouts with tokens 4, 8, ...; responses arrive
//     after the callback returns, on the root context.
//   - A trap fails that VM for good; fail-closed answers 503
//     (wasm_fail_stream) from then on, fail-open passes requests through.
//   - The request and response paths of a Chain follow Envoy's filter
//     manager: request through filters in order, response in reverse; a
//     local reply before the response starts runs through the encoder
//     filters that saw the request (the sender included); once upstream
//     headers arrived it replaces them directly; once headers went to the
//     client it resets the stream. On completion Envoy's HTTP order is
//     proxy_on_log (access-log hook) for every filter, then proxy_on_done
//     and proxy_on_delete.
//
// # Limits
//
//   - wazero, not V8: trap messages and backtraces read differently,
//     performance differs, and V8-only behaviour (e.g. its stack depth)
//     is not reproduced. Memory is capped at V8's 1 GiB.
//   - No real HTTP codec, TLS or network: connection attributes come from
//     ConnInfo; Envoy's header mutations (x-request-id,
//     x-forwarded-proto) are not added; inline headers that Envoy merges
//     on add are kept as separate entries.
//   - No flow control or watermarks: StopIterationAndWatermark buffers like
//     StopIterationAndBuffer; only the buffer limit is enforced.
//   - Timing: callouts and queue notifications run synchronously between
//     callbacks, and pauses resolve before the next body chunk arrives; a
//     pause nothing resumes is reported as ErrStalled instead of timing out.
//     Ticks fire only when a test calls Tick or FireDueTicks.
//   - ABI 0.1.0 modules are refused; 0.2.0 and 0.2.1 run.
//   - One root context per VM (one plugin per VM); no network (TCP)
//     filters, gRPC callouts (Unimplemented), foreign functions (NotFound),
//     DNS resolution (always fails), FAIL_RELOAD or proxy_done.
//   - The monotonic clock follows the plugin clock: under a stopped
//     ManualClock a guest that sleeps never wakes.
package host
