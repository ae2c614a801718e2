//go:build cgo

package polymongo

import (
	"context"
	"math"
	"runtime"
	"sync/atomic"
	"time"
)

// run executes fn, a blocking C call, honouring ctx.
//
// A context that is already done fails at once with ctx.Err(). A context that can never be
// cancelled runs fn on the calling goroutine. Otherwise fn runs on its own goroutine and run
// returns ctx.Err() as soon as the context is done; fn then finishes in the background (C calls
// cannot be interrupted; they are bounded by the client's timeouts), and what it produced is
// handed to discard (e.g. closing a cursor that nobody will read). fn must therefore own
// everything it touches: it acquires its handles itself and copies whatever C memory it reads.
func run[T any](ctx context.Context, fn func() (T, error), discard func(T)) (T, error) {
	if err := ctx.Err(); err != nil {
		var zero T
		return zero, err
	}
	yieldIfDue()
	done := ctx.Done()
	if done == nil {
		return timed(fn)
	}
	type outcome struct {
		v   T
		err error
	}
	ch := make(chan outcome, 1)
	go func() {
		v, err := timed(fn)
		ch <- outcome{v, err}
	}()
	select {
	case o := <-ch:
		return o.v, o.err
	case <-done:
		// Prefer a result that is already there over a late cancellation.
		select {
		case o := <-ch:
			return o.v, o.err
		default:
		}
		go func() {
			o := <-ch
			if discard != nil && o.err == nil {
				discard(o.v)
			}
		}()
		var zero T
		return zero, ctx.Err()
	}
}

// Blocking C calls and the Go scheduler. A goroutine that makes C calls back to back never
// parks, so the scheduler counts them all as one time slice. Once that slice is 10 ms old, the
// runtime's monitor thread (sysmon) takes the goroutine's P away during every following call:
// each call then ends by waking sysmon and acquiring a P again, several thread wake-ups per call
// where the I/O wait alone needs one (measured: twice the CPU per call for calls of 0.1 to
// 1 ms). Yielding before a call once yieldInterval has passed since the last yield
// (runtime.Gosched starts a new slice) keeps the slice short, for one pass through the
// scheduler every few milliseconds.
//
// Calls of 10 ms or more (a slow or loaded server) lose their P whatever the slice, and sysmon
// then polls every 20 µs for a while: with a fresh slice (the goroutine keeping its P through
// the calls that follow) that is some thirty wake-ups per long call (measured). With a stale
// slice, sysmon takes the P at the start of each call and, every P then being idle, sleeps
// until the call returns: about five wake-ups per call. So yielding stops while more than 1
// call in 10 of the recent ones (longShare, a moving average) took 10 ms or more, about where
// the two costs meet. The state is shared by all goroutines: one yield per interval, by
// whichever goroutine calls next.
const (
	yieldInterval = 4 * time.Millisecond
	longCall      = 10 * time.Millisecond
	longShareMax  = 1 << 16 / 10 // 1 call in 10
)

var (
	clockStart = time.Now()
	lastYield  atomic.Int64 // nanoseconds since clockStart
	longShare  atomic.Int32 // share of recent calls that took longCall or more, in 1/65536
)

func yieldIfDue() {
	now := int64(time.Since(clockStart))
	if last := lastYield.Load(); now-last >= int64(yieldInterval) && longShare.Load() < longShareMax &&
		lastYield.CompareAndSwap(last, now) {
		runtime.Gosched()
	}
}

// timed runs fn and counts it into longShare (each call weighs 1/64).
func timed[T any](fn func() (T, error)) (T, error) {
	start := time.Since(clockStart)
	v, err := fn()
	long := time.Since(clockStart)-start >= longCall
	if s := longShare.Load(); long || s >= 64 {
		s -= s >> 6
		if long {
			s += 1 << 10
		}
		longShare.Store(s)
	}
	return v, err
}

// run0 is run for calls that produce nothing but an error.
func run0(ctx context.Context, fn func() error) error {
	_, err := run(ctx, func() (struct{}, error) { return struct{}{}, fn() }, nil)
	return err
}

// maxTimeMS is how long the server may work for a call under ctx: the time left before the
// deadline, at least 1 ms; 0 when the context has no deadline.
func maxTimeMS(ctx context.Context) int64 {
	d, ok := ctx.Deadline()
	if !ok {
		return 0
	}
	return durationMS(time.Until(d), true)
}

// durationMS converts to whole milliseconds, rounding up; with atLeastOne, never below 1.
func durationMS(d time.Duration, atLeastOne bool) int64 {
	if d <= 0 {
		if atLeastOne {
			return 1
		}
		return 0
	}
	ms := (d + time.Millisecond - 1) / time.Millisecond
	if ms > math.MaxInt32 {
		ms = math.MaxInt32
	}
	return int64(ms)
}
