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
		return fn()
	}
	type outcome struct {
		v   T
		err error
	}
	ch := make(chan outcome, 1)
	go func() {
		v, err := fn()
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

// A goroutine that makes blocking C calls back to back never parks, so the scheduler counts
// them all as one time slice. Once the slice is 10 ms old, the runtime's monitor thread
// (sysmon) retakes the goroutine's P during every following C call; each call then ends by
// waking sysmon and acquiring a P again, and sysmon goes back to polling every 20 µs: several
// thread wake-ups per call where the I/O wait alone needs one. Yielding before a call once
// yieldInterval has passed since the last yield (runtime.Gosched starts a new slice) keeps the
// slice short, for one pass through the scheduler every few milliseconds. The clock is shared
// by all goroutines: one yield per interval, by whichever goroutine calls next.
const yieldInterval = 4 * time.Millisecond

var (
	clockStart = time.Now()
	lastYield  atomic.Int64 // nanoseconds since clockStart
)

func yieldIfDue() {
	now := int64(time.Since(clockStart))
	if last := lastYield.Load(); now-last >= int64(yieldInterval) && lastYield.CompareAndSwap(last, now) {
		runtime.Gosched()
	}
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
