package polymongo

/*
#include <polymongo.h>
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/v2/mongo"
)

// Code is a polymongo error code (the C API's pm_code).
type Code int

// The codes of the C API.
const (
	CodeOK              Code = C.PM_OK
	CodeInvalidArgument Code = C.PM_EINVAL     // an argument or option is invalid; nothing was sent
	CodeInvalidDBName   Code = C.PM_EDBNAME    // a database name breaks MongoDB's rules or is a system database
	CodeConnection      Code = C.PM_ECONNECT   // no server could be reached / the connection broke
	CodeTimeout         Code = C.PM_ETIMEOUT   // a bounded wait ran out (pool checkout, socket, maxTimeMS)
	CodeAuth            Code = C.PM_EAUTH      // authentication failed
	CodeDuplicateKey    Code = C.PM_EDUPKEY    // duplicate key (server codes 11000, 11001, 12582)
	CodeServer          Code = C.PM_ESERVER    // any other error from the server; see Error.ServerCode
	CodeClosed          Code = C.PM_ECLOSED    // the client or handle is closed
	CodeNotSupported    Code = C.PM_ENOTSUP    // the server or build cannot do this
	CodeInternal        Code = C.PM_EINTERNAL  // a bug or resource exhaustion inside polymongo
	CodeWrite           Code = C.PM_EWRITE     // some writes of a batch failed; see Error.WriteErrors
	CodeThrottled       Code = C.PM_ETHROTTLED // the database's tenant limits refused it; nothing was sent; retryable
	CodeMoving          Code = C.PM_EMOVING    // the database is moving between clusters; nothing was sent; retryable
)

// Retryable tells whether a call that failed with this code may simply be tried again later:
// nothing reached the server (pm_code_is_retryable; true for CodeThrottled).
func (c Code) Retryable() bool { return C.pm_code_is_retryable(C.int(c)) != 0 }

// String is the C constant's name, e.g. "PM_EDBNAME".
func (c Code) String() string { return C.GoString(C.pm_code_name(C.int(c))) }

// sentinel is the type of the Err* values: each stands for one Code.
type sentinel struct {
	code Code
	text string
}

func (s *sentinel) Error() string { return "polymongo: " + s.text }

// Sentinel errors, one per Code, for errors.Is. Every *Error matches the sentinel of its Code;
// an error that carries per-index write errors also matches ErrWrite (a batch whose every failure
// is a duplicate key has CodeDuplicateKey and matches both ErrDuplicateKey and ErrWrite).
var (
	ErrInvalidArgument error = &sentinel{CodeInvalidArgument, "invalid argument"}
	ErrInvalidDBName   error = &sentinel{CodeInvalidDBName, "invalid database name"}
	ErrConnection      error = &sentinel{CodeConnection, "connection error"}
	ErrTimeout         error = &sentinel{CodeTimeout, "timeout"}
	ErrAuth            error = &sentinel{CodeAuth, "authentication failed"}
	ErrDuplicateKey    error = &sentinel{CodeDuplicateKey, "duplicate key"}
	ErrServer          error = &sentinel{CodeServer, "server error"}
	ErrClosed          error = &sentinel{CodeClosed, "closed"}
	ErrNotSupported    error = &sentinel{CodeNotSupported, "not supported"}
	ErrInternal        error = &sentinel{CodeInternal, "internal error"}
	ErrWrite           error = &sentinel{CodeWrite, "write error"}
	ErrThrottled       error = &sentinel{CodeThrottled, "throttled"}
	ErrMoving          error = &sentinel{CodeMoving, "moving between clusters"}
)

// ErrNoDocuments is returned by SingleResult when the query matched nothing. It is the
// official driver's mongo.ErrNoDocuments itself (and, as there, not an *Error), so either
// name works with errors.Is.
var ErrNoDocuments = mongo.ErrNoDocuments

// Error is every failure reported by polymongo.
type Error struct {
	Code       Code   // the polymongo code
	ServerCode int32  // the server's error code when the server gave one, else 0
	Message    string // never contains credentials

	// WriteErrors lists the failed writes of a batch (insert, update, delete, bulk write), by
	// their index in the request. Result is the batch's partial result: what was applied.
	WriteErrors []WriteError
	Result      *BulkWriteResult

	cause error // a Go-side cause (e.g. a bson.Marshal failure), for errors.Unwrap
	alias error // the official driver's error of the same meaning (mongo.ErrEmptySlice ...), for errors.Is
}

// WriteError is one failed write of a batch.
type WriteError struct {
	Index   int    // the index of the operation in the request
	Code    int32  // the server's error code
	Message string // the server's message
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("polymongo: ")
	b.WriteString(e.Message)
	b.WriteString(" [")
	b.WriteString(e.Code.String())
	if e.ServerCode != 0 {
		fmt.Fprintf(&b, ", server code %d", e.ServerCode)
	}
	b.WriteString("]")
	return b.String()
}

// Is makes errors.Is(err, ErrX) work; see the sentinel errors. An error also matches the
// official driver's sentinel of the same meaning: mongo.ErrClientDisconnected (CodeClosed),
// mongo.ErrEmptySlice (InsertMany or BulkWrite with nothing to write), mongo.ErrNilDocument (a
// nil document).
func (e *Error) Is(target error) bool {
	s, ok := target.(*sentinel)
	if !ok {
		return (e.alias != nil && target == e.alias) ||
			(e.Code == CodeClosed && target == mongo.ErrClientDisconnected)
	}
	return s.code == e.Code || (s.code == CodeWrite && len(e.WriteErrors) > 0)
}

// like records the official driver's error of the same meaning, for Is.
func (e *Error) like(driverErr error) *Error {
	e.alias = driverErr
	return e
}

// Timeout reports whether a bounded wait ran out (CodeTimeout). With Temporary it makes an
// *Error a net.Error, which the official driver's mongo.IsTimeout recognises.
func (e *Error) Timeout() bool { return e.Code == CodeTimeout }

// Temporary reports whether the same call may simply be tried again (Code.Retryable); part of
// net.Error.
func (e *Error) Temporary() bool { return e.Code.Retryable() }

// HasErrorLabel answers the official driver's labelled-error question (mongo.LabeledError):
// "NetworkError" for a connection error, so that mongo.IsNetworkError works, and
// "NetworkTimeoutError" for a timeout with no server code.
func (e *Error) HasErrorLabel(label string) bool {
	switch label {
	case "NetworkError":
		return e.Code == CodeConnection
	case "NetworkTimeoutError":
		return e.Code == CodeTimeout && e.ServerCode == 0
	}
	return false
}

// IsDuplicateKeyError reports whether err (anywhere in its chain) is a duplicate key, like the
// official driver's mongo.IsDuplicateKeyError: an *Error with CodeDuplicateKey, or one whose
// write errors include a duplicate key (a batch that also failed otherwise).
func IsDuplicateKeyError(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	if e.Code == CodeDuplicateKey {
		return true
	}
	for _, we := range e.WriteErrors {
		if IsDuplicateKey(we.Code) {
			return true
		}
	}
	return false
}

// Unwrap returns the Go-side cause, if any.
func (e *Error) Unwrap() error { return e.cause }

// IsDuplicateKey reports whether a server error code means a duplicate key: the library's rule
// (pm_is_duplicate_key), the one that gives CodeDuplicateKey. For WriteErrors[i].Code.
func IsDuplicateKey(serverCode int32) bool {
	return C.pm_is_duplicate_key(C.int32_t(serverCode)) != 0
}

// errorf makes a Go-side error (nothing reached the C library).
func errorf(code Code, cause error, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	if cause != nil {
		msg += ": " + cause.Error()
	}
	return &Error{Code: code, Message: msg, cause: cause}
}

// cError converts the C error out-parameter of a call that returned rc.
func cError(rc C.int, e *C.pm_error) *Error {
	return &Error{
		Code:       Code(rc),
		ServerCode: int32(e.server_code),
		Message:    C.GoString(&e.message[0]),
	}
}

func closedError(what string) *Error {
	return &Error{Code: CodeClosed, Message: what + " is closed"}
}
