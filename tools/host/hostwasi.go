package host

import (
	"crypto/rand"
	"encoding/binary"
	"sort"
)

// WASI errno values cpp-host returns.
const (
	errnoSuccess  = 0
	errnoBadF     = 8
	errnoFault    = 21
	errnoInval    = 28
	errnoNoEnt    = 44
	errnoNoSys    = 52
	errnoNotDir   = 20
	errnoNotSup   = 58
	randomGetMax  = 64 << 10
	rightsFDWrite = 64
)

// wasiFunctions is the WASI preview1 surface of cpp-host (exports.cc, after
// the April 2026 additions): stdout and stderr go to the log, clocks come
// from the plugin's clock, randomness is real, and there is no file system.
// Everything else exists only so modules link, returning cpp-host's errno.
func wasiFunctions() []hostFunc {
	p4, _ := words(4, true)
	return []hostFunc{
		fn("fd_write", 4, wasiFDWrite).allowInit().allowAlloc(),
		fn("fd_read", 4, errnoFn(errnoNoSys)),
		sigFn("fd_seek", []apiType{i32, i64, i32, i32}, traceErrno("wasi_unstable fd_seek")),
		fn("fd_close", 1, traceErrno("wasi_unstable fd_close")),
		fn("fd_fdstat_get", 2, wasiFDStatGet).allowInit(),
		fn("fd_fdstat_set_flags", 2, errnoFn(errnoNoSys)).allowInit(),
		fn("environ_get", 2, wasiEnvironGet).allowInit(),
		fn("environ_sizes_get", 2, wasiEnvironSizesGet).allowInit(),
		fn("args_get", 2, errnoFn(errnoSuccess)).allowInit(),
		fn("args_sizes_get", 2, wasiArgsSizesGet).allowInit(),
		sigFn("clock_time_get", []apiType{i32, i64, i32}, wasiClockTimeGet).allowInit().allowAlloc(),
		fn("clock_res_get", 2, wasiClockResGet).allowInit(),
		fn("random_get", 2, wasiRandomGet).allowInit(),
		fn("sched_yield", 0, errnoFn(errnoSuccess)),
		sigFn("poll_oneoff", p4, wasiPollOneoff).allowInit().allowAlloc(),
		voidFn("proc_exit", 1, func(vm *VM, _ []uint64) {
			// cpp-host logs and returns; it does not stop the module.
			vm.log(LogTrace, "wasi_unstable proc_exit")
		}),
		sigFn("path_open", []apiType{i32, i32, i32, i32, i32, i64, i64, i32, i32},
			errnoFn(errnoNoEnt)),
		fn("fd_prestat_get", 2, errnoFn(errnoBadF)).allowInit(),
		fn("fd_prestat_dir_name", 3, errnoFn(errnoNoSys)).allowInit(),
		fn("fd_filestat_get", 2, errnoFn(errnoBadF)).allowInit(),
		fn("path_filestat_get", 5, errnoFn(errnoNotSup)).allowInit(),
		sigFn("fd_advise", []apiType{i32, i64, i64, i32}, errnoFn(errnoSuccess)).allowInit(),
		sigFn("fd_allocate", []apiType{i32, i64, i64}, stdioOnly(errnoSuccess)).allowInit(),
		fn("fd_datasync", 1, stdioOnly(errnoSuccess)).allowInit(),
		sigFn("fd_fdstat_set_rights", []apiType{i32, i64, i64}, stdioOnly(errnoSuccess)).allowInit(),
		sigFn("fd_filestat_set_size", []apiType{i32, i64}, stdioOnly(errnoSuccess)).allowInit(),
		sigFn("fd_filestat_set_times", []apiType{i32, i64, i64, i32},
			stdioOnly(errnoSuccess)).allowInit(),
		sigFn("fd_pread", []apiType{i32, i32, i32, i64, i32}, errnoFn(errnoNoSys)).allowInit(),
		sigFn("fd_pwrite", []apiType{i32, i32, i32, i64, i32}, wasiFDPwrite).allowInit(),
		sigFn("fd_readdir", []apiType{i32, i32, i32, i64, i32}, wasiFDReaddir).allowInit(),
		fn("fd_renumber", 2, wasiFDRenumber).allowInit(),
		fn("fd_sync", 1, stdioOnly(errnoSuccess)).allowInit(),
		fn("fd_tell", 2, wasiFDTell).allowInit(),
		fn("path_create_directory", 3, errnoFn(errnoNotSup)).allowInit(),
		sigFn("path_filestat_set_times", []apiType{i32, i32, i32, i32, i64, i64, i32},
			errnoFn(errnoNotSup)).allowInit(),
		// cpp-host registers path_link with 6 parameters and path_symlink
		// with 4, one fewer than WASI defines; a module importing the
		// standard signatures fails to link there, and here.
		fn("path_link", 6, errnoFn(errnoNotSup)).allowInit(),
		fn("path_readlink", 6, wasiPathReadlink).allowInit(),
		fn("path_remove_directory", 3, errnoFn(errnoNotSup)).allowInit(),
		fn("path_rename", 6, errnoFn(errnoNotSup)).allowInit(),
		fn("path_symlink", 4, errnoFn(errnoNotSup)).allowInit(),
		fn("path_unlink_file", 3, errnoFn(errnoNotSup)).allowInit(),
		fn("sock_accept", 3, wasiSockAccept).allowInit(),
		fn("sock_recv", 6, wasiSockRecv).allowInit(),
		fn("sock_send", 5, wasiSockSend).allowInit(),
		fn("sock_shutdown", 2, errnoFn(errnoNotSup)).allowInit(),
	}
}

func errnoFn(errno uint64) func(*VM, []uint64) {
	return func(_ *VM, s []uint64) { s[0] = errno }
}

// traceErrno is for calls cpp-host answers with success after logging an
// error through Envoy's trace-level Context::error.
func traceErrno(message string) func(*VM, []uint64) {
	return func(vm *VM, s []uint64) {
		vm.log(LogTrace, message)
		s[0] = errnoSuccess
	}
}

func isStdio(fd uint32) bool { return fd == 1 || fd == 2 }

// stdioOnly succeeds with errno on stdout and stderr, BADF elsewhere.
func stdioOnly(errno uint64) func(*VM, []uint64) {
	return func(_ *VM, s []uint64) {
		if !isStdio(u32(s, 0)) {
			s[0] = errnoBadF
			return
		}
		s[0] = errno
	}
}

// writev joins the iovecs, strips one trailing newline and logs the text:
// stdout at info, stderr at error (cpp-host writevImpl).
func writev(vm *VM, fd, iovs, count uint32) (uint32, uint64) {
	var level LogLevel
	switch fd {
	case 1:
		level = LogInfo
	case 2:
		level = LogError
	default:
		return 0, errnoBadF
	}
	var text []byte
	for i := uint32(0); i < count; i++ {
		iov, ok := vm.view(iovs+i*8, 8)
		if !ok {
			return 0, errnoFault
		}
		ptr, size := binary.LittleEndian.Uint32(iov), binary.LittleEndian.Uint32(iov[4:])
		if size == 0 {
			continue
		}
		b, ok := vm.view(ptr, size)
		if !ok {
			return 0, errnoFault
		}
		text = append(text, b...)
	}
	written := uint32(len(text))
	if written > 0 {
		if text[len(text)-1] == '\n' {
			text = text[:len(text)-1]
		}
		vm.log(level, string(text))
	}
	return written, errnoSuccess
}

func wasiFDWrite(vm *VM, s []uint64) {
	written, errno := writev(vm, u32(s, 0), u32(s, 1), u32(s, 2))
	if errno != errnoSuccess {
		s[0] = errno
		return
	}
	if !vm.mem.WriteUint32Le(u32(s, 3), written) {
		s[0] = errnoFault
		return
	}
	s[0] = errnoSuccess
}

func wasiFDPwrite(vm *VM, s []uint64) {
	if !isStdio(u32(s, 0)) {
		s[0] = errnoBadF
		return
	}
	written, errno := writev(vm, u32(s, 0), u32(s, 1), u32(s, 2))
	if errno != errnoSuccess {
		s[0] = errno
		return
	}
	if !vm.mem.WriteUint32Le(u32(s, 4), written) {
		s[0] = errnoFault
		return
	}
	s[0] = errnoSuccess
}

// wasiFDStatGet describes stdout and stderr as write-only; cpp-host
// ignores a failed write here.
func wasiFDStatGet(vm *VM, s []uint64) {
	if !isStdio(u32(s, 0)) {
		s[0] = errnoBadF
		return
	}
	var stat [24]byte
	binary.LittleEndian.PutUint64(stat[8:], rightsFDWrite)
	vm.mem.Write(u32(s, 1), stat[:])
	s[0] = errnoSuccess
}

// environment returns the plugin's environment variables in a stable
// order (Envoy's vm_config environment_variables).
func (vm *VM) environment() []string {
	keys := make([]string, 0, len(vm.plugin.cfg.Env))
	for k := range vm.plugin.cfg.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k + "=" + vm.plugin.cfg.Env[k]
	}
	return out
}

func wasiEnvironSizesGet(vm *VM, s []uint64) {
	env := vm.environment()
	size := 0
	for _, e := range env {
		size += len(e) + 1
	}
	if !vm.mem.WriteUint32Le(u32(s, 0), uint32(len(env))) ||
		!vm.mem.WriteUint32Le(u32(s, 1), uint32(size)) {
		s[0] = errnoFault
		return
	}
	s[0] = errnoSuccess
}

func wasiEnvironGet(vm *VM, s []uint64) {
	array, buf := u32(s, 0), u32(s, 1)
	for _, e := range vm.environment() {
		if !vm.mem.WriteUint32Le(array, buf) || !vm.mem.Write(buf, append([]byte(e), 0)) {
			s[0] = errnoFault
			return
		}
		buf += uint32(len(e)) + 1
		array += 4
	}
	s[0] = errnoSuccess
}

func wasiArgsSizesGet(vm *VM, s []uint64) {
	if !vm.mem.WriteUint32Le(u32(s, 0), 0) || !vm.mem.WriteUint32Le(u32(s, 1), 0) {
		s[0] = errnoFault
		return
	}
	s[0] = errnoSuccess
}

// wasiClockTimeGet serves realtime from the plugin's clock and monotonic
// time derived from it, so a guest measuring durations sees the clock move
// exactly as tests move it.
func wasiClockTimeGet(vm *VM, s []uint64) {
	var t uint64
	switch u32(s, 0) {
	case 0:
		t = uint64(vm.plugin.now().UnixNano())
	case 1:
		t = vm.plugin.monotonic()
	default:
		s[0] = errnoNotSup
		return
	}
	if !vm.mem.WriteUint64Le(u32(s, 2), t) {
		s[0] = errnoFault
		return
	}
	s[0] = errnoSuccess
}

func wasiClockResGet(vm *VM, s []uint64) {
	switch u32(s, 0) {
	case 0, 1:
	default:
		s[0] = errnoNotSup
		return
	}
	if !vm.mem.WriteUint64Le(u32(s, 1), 1) {
		s[0] = errnoFault
		return
	}
	s[0] = errnoSuccess
}

func wasiRandomGet(vm *VM, s []uint64) {
	size := u32(s, 1)
	if size > randomGetMax {
		s[0] = errnoInval
		return
	}
	if size == 0 {
		s[0] = errnoSuccess
		return
	}
	b := make([]byte, size)
	_, _ = rand.Read(b)
	if !vm.mem.Write(u32(s, 0), b) {
		s[0] = errnoFault
		return
	}
	s[0] = errnoSuccess
}

// wasiPollOneoff reports no events and success, which the Go runtime needs
// (cpp-host after its April 2026 change).
func wasiPollOneoff(vm *VM, s []uint64) {
	if !vm.mem.WriteUint32Le(u32(s, 3), 0) {
		s[0] = errnoFault
		return
	}
	s[0] = errnoSuccess
}

func wasiFDReaddir(vm *VM, s []uint64) {
	if !vm.mem.WriteUint32Le(u32(s, 4), 0) {
		s[0] = errnoFault
		return
	}
	s[0] = errnoNotDir
}

func wasiFDRenumber(_ *VM, s []uint64) {
	if !isStdio(u32(s, 0)) || !isStdio(u32(s, 1)) {
		s[0] = errnoBadF
		return
	}
	s[0] = errnoNotSup
}

func wasiFDTell(vm *VM, s []uint64) {
	if !isStdio(u32(s, 0)) {
		s[0] = errnoBadF
		return
	}
	if !vm.mem.WriteUint64Le(u32(s, 1), 0) {
		s[0] = errnoFault
		return
	}
	s[0] = errnoSuccess
}

func wasiPathReadlink(vm *VM, s []uint64) {
	if !vm.mem.WriteUint32Le(u32(s, 5), 0) {
		s[0] = errnoFault
		return
	}
	s[0] = errnoNotSup
}

// wasiSockAccept writes 8 bytes where WASI has a 4-byte descriptor, as
// cpp-host does (setDatatype with an unsigned long).
func wasiSockAccept(vm *VM, s []uint64) {
	if !vm.mem.WriteUint64Le(u32(s, 2), 0) {
		s[0] = errnoFault
		return
	}
	s[0] = errnoNotSup
}

func wasiSockRecv(vm *VM, s []uint64) {
	if !vm.mem.WriteUint32Le(u32(s, 4), 0) || !vm.mem.WriteUint16Le(u32(s, 5), 0) {
		s[0] = errnoFault
		return
	}
	s[0] = errnoNotSup
}

func wasiSockSend(vm *VM, s []uint64) {
	if !vm.mem.WriteUint32Le(u32(s, 4), 0) {
		s[0] = errnoFault
		return
	}
	s[0] = errnoNotSup
}
