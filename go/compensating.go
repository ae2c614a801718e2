package polymongo

/*
#include <stdlib.h>
#include <polymongo.h>
*/
import "C"

import (
	"context"
	"time"
	"unsafe"
)

// CompensatingOptions configure StartCompensating.
type CompensatingOptions struct {
	// Journal writes each undo record to a journal collection on the write's cluster before
	// the write, so that Client.Recover (or Options.RecoverOnStart) can roll back what a
	// crashed process left open.
	Journal bool
	// JournalDB is the journal's database (default "polymongo_journal").
	JournalDB string
}

// StartCompensating starts a compensating session: a transaction across any pools and
// clusters, kept by recording the exact undo of every write made through DBs bound to it
// (DB.WithSession), and undone newest first by AbortTransaction, or by WithTransaction when fn
// fails. Isolation is not provided: other clients see the writes before the commit, and an
// undo restores pre-images over whatever they wrote to those documents meanwhile.
//
// Supported writes are InsertOne/InsertMany, UpdateOne/UpdateMany, ReplaceOne and
// DeleteOne/DeleteMany; other writes fail with ErrNotSupported in such a session, and so do
// writes outside a transaction (ErrInvalidArgument). StartTransaction takes no options here.
func (c *Client) StartCompensating(ctx context.Context, opts ...*CompensatingOptions) (*Session, error) {
	var o doc
	if co := last(opts); co != nil {
		m := map[string]any{}
		if co.Journal {
			m["journal"] = true
		}
		if co.JournalDB != "" {
			m["journalDb"] = co.JournalDB
		}
		if len(m) > 0 {
			var err error
			if o, err = toDoc(m, "compensating options"); err != nil {
				return nil, err
			}
		}
	}
	ptr, err := run(ctx, func() (*C.pm_session, error) {
		return withWrapper(c, func(w *C.pm_wrapper) (*C.pm_session, error) {
			op, on := o.arg()
			var s *C.pm_session
			var e C.pm_error
			if rc := C.pm_wrapper_start_compensating(w, op, on, &s, &e); rc != 0 {
				return nil, cError(rc, &e)
			}
			return s, nil
		})
	}, func(s *C.pm_session) { C.pm_session_free(s) })
	if err != nil {
		return nil, err
	}
	s, err := newSession(c, ptr, "")
	if err != nil {
		return nil, err
	}
	s.compensating = true
	return s, nil
}

// Compensating reports whether the session came from StartCompensating.
func (s *Session) Compensating() bool { return s.compensating }

// RollbackReport is what the last rollback of a compensating session did, step by step
// (newest write first).
type RollbackReport struct {
	Txn         string         `json:"txn"`
	Steps       []RollbackStep `json:"steps"`
	FailedSteps int            `json:"failedSteps"`
	Raw         string         `json:"-"` // the JSON as the library gave it
}

// RollbackStep is the undo of one write.
type RollbackStep struct {
	Seq        int64  `json:"seq"`
	DB         string `json:"db"`
	Collection string `json:"collection"`
	Undo       string `json:"undo"`      // "delete_ids" or "restore_docs"
	Documents  int    `json:"documents"` // how many documents it deleted or restored
	OK         bool   `json:"ok"`
	Error      string `json:"error,omitempty"`
}

// RollbackReport returns the report of the session's last rollback, or nil when it has not
// rolled anything back. ErrInvalidArgument for a native session.
func (s *Session) RollbackReport() (*RollbackReport, error) {
	if !s.compensating {
		return nil, errorf(CodeInvalidArgument, nil, "RollbackReport: not a compensating session")
	}
	p, err := s.st.h.acquire()
	if err != nil {
		return nil, err
	}
	defer s.st.h.release()
	s.st.lock.lockAlways()
	defer s.st.lock.unlock()
	var out *C.char
	if rc := C.pm_session_rollback_report(p, &out); rc != 0 {
		return nil, &Error{Code: Code(rc), Message: "rollback report"}
	}
	if out == nil {
		return nil, nil
	}
	defer C.pm_free(unsafe.Pointer(out))
	r := &RollbackReport{Raw: C.GoString(out)}
	if err := decodeJSON(r.Raw, r); err != nil {
		return nil, err
	}
	return r, nil
}

// RecoveryReport lists the compensating transactions Recover rolled back.
type RecoveryReport struct {
	Recovered []RecoveredTransaction `json:"recovered"`
	Raw       string                 `json:"-"`
}

// RecoveredTransaction is one transaction rolled back from a journal.
type RecoveredTransaction struct {
	Txn     string `json:"txn"`
	Cluster string `json:"cluster"` // its URI, without credentials
	Undone  int    `json:"undone"`  // undo steps applied
	Failed  int    `json:"failed"`  // undo steps that failed (they stay in the journal)
}

// Recover rolls back the compensating transactions that crashed processes left open in the
// journals (Options.JournalDB) of every cluster this client knows, when they are older than
// olderThan (so that live transactions of other processes are left alone).
func (c *Client) Recover(ctx context.Context, olderThan time.Duration) (*RecoveryReport, error) {
	ms := C.int64_t(durationMS(olderThan, false))
	text, err := c.textCall(ctx, func(w *C.pm_wrapper, out **C.char, e *C.pm_error) C.int {
		return C.pm_wrapper_recover(w, ms, out, e)
	})
	if err != nil {
		return nil, err
	}
	r := &RecoveryReport{Raw: text}
	if err := decodeJSON(text, r); err != nil {
		return nil, err
	}
	return r, nil
}
