package polymongo

// Callbacks from C into Go.
//
// The C API passes callbacks a `void *user_data` last, and a registration that outlives the call
// also takes a `void (*free_user_data)(void *)` (see ARCHITECTURE.md). The binding's pattern for
// every such registration (the coming hooks/events):
//
//   - the Go payload (a func or a struct of funcs) goes into a runtime/cgo.Handle, passed to C
//     as user_data via pm_go_handle_to_ptr (an integer smuggled in a pointer, never a Go pointer);
//   - the C function pointers are the trampolines of callbacks.c, which call the //export'ed Go
//     functions below;
//   - free_user_data is polymongo_go_free_user_data, which deletes the Handle when C drops it;
//   - a panic in user code is recovered in the exported function (it must never unwind through
//     C frames) and handed to the client's panic handler.
//
// Adding a callback type is mechanical: one trampoline in callbacks.c, one //export function
// here that looks up the Handle and calls dispatch, and the registration method (events.go
// is the worked example).

/*
#include <stdint.h>
#include <polymongo.h>

void polymongo_go_free_user_data(void *user_data);
int polymongo_go_probe(void *user_data, int value);
int polymongo_go_call_probe(uintptr_t handle, int value);
*/
import "C"

import (
	"fmt"
	"os"
	"runtime/cgo"
	"sync/atomic"
	"unsafe"
)

// PanicHandler receives panics raised by user callbacks running on polymongo's threads. The
// default prints the panic to standard error; the process keeps running.
var panicHandler atomic.Pointer[func(any)]

// SetPanicHandler replaces the handler of panics raised inside callbacks (nil: the default).
func SetPanicHandler(fn func(recovered any)) {
	if fn == nil {
		panicHandler.Store(nil)
		return
	}
	panicHandler.Store(&fn)
}

// dispatch runs a user callback, never letting a panic reach C.
func dispatch(fn func()) (panicked bool) {
	defer func() {
		if r := recover(); r != nil {
			panicked = true
			if h := panicHandler.Load(); h != nil {
				(*h)(r)
			} else {
				fmt.Fprintf(os.Stderr, "polymongo: panic in a callback: %v\n", r)
			}
		}
	}()
	fn()
	return false
}

// handleOf recovers the cgo.Handle from a C user_data pointer.
func handleOf(p unsafe.Pointer) cgo.Handle { return cgo.Handle(uintptr(p)) }

//export polymongoGoFreeUserData
func polymongoGoFreeUserData(p unsafe.Pointer) {
	h := handleOf(p)
	if _, ok := h.Value().(*eventSub); ok {
		liveCallbacks.Add(-1)
	}
	h.Delete()
}

//export polymongoGoEvent
func polymongoGoEvent(ev *C.pm_event, p unsafe.Pointer) {
	deliverEvent(ev, handleOf(p))
}

//export polymongoGoTransaction
func polymongoGoTransaction(p unsafe.Pointer) C.int {
	return handleOf(p).Value().(*txnCall).transaction()
}

//export polymongoGoWrite
func polymongoGoWrite(line *C.char, n C.size_t, p unsafe.Pointer) C.int {
	return handleOf(p).Value().(*transferCall).write(unsafe.Slice((*byte)(unsafe.Pointer(line)), int(n)))
}

//export polymongoGoRead
func polymongoGoRead(buf *C.char, n C.size_t, p unsafe.Pointer) C.long {
	return handleOf(p).Value().(*transferCall).read(unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(n)))
}

//export polymongoGoProgress
func polymongoGoProgress(documents, bytes C.uint64_t, p unsafe.Pointer) {
	handleOf(p).Value().(*transferCall).report(uint64(documents), uint64(bytes))
}

//export polymongoGoPlacement
func polymongoGoPlacement(db, clustersJSON *C.char, out *C.char, capacity C.size_t, p unsafe.Pointer) C.int {
	return handleOf(p).Value().(placementCall).choose(C.GoString(db), C.GoString(clustersJSON),
		unsafe.Slice((*byte)(unsafe.Pointer(out)), int(capacity)))
}

// probeCallback is the payload type of the self-test trampoline below.
type probeCallback func(int) int

//export polymongoGoProbe
func polymongoGoProbe(p unsafe.Pointer, value C.int) (out C.int) {
	out = -1
	fn := handleOf(p).Value().(probeCallback)
	dispatch(func() { out = C.int(fn(int(value))) })
	return out
}

// callThroughC sends fn through the whole callback path: Handle -> C trampoline -> exported
// Go function -> fn, then frees the Handle through the free_user_data trampoline. It exists
// so that the tests prove the path works (under -race) before the C API has hooks.
func callThroughC(fn func(int) int, value int) int {
	h := cgo.NewHandle(probeCallback(fn))
	return int(C.polymongo_go_call_probe(C.uintptr_t(h), C.int(value)))
}
