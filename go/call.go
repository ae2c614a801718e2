package polymongo

import (
	"context"
	"math"
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
