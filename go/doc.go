//go:build cgo

// Package polymongo is the Go binding of polymongo: many MongoDB databases served by a few
// pooled connections.
//
// A [Client] owns the connection pools. A [Model] is a collection definition (name, optional
// validator and indexes). [Model.DB] binds a model to one database without any I/O, and the
// resulting [DB] carries the CRUD methods, named like the official Go driver's
// (InsertOne, Find, UpdateMany, BulkWrite, ...). Documents are anything
// go.mongodb.org/mongo-driver/v2/bson can marshal; results decode into structs.
//
//	client, err := polymongo.New(polymongo.Options{MongoURI: "mongodb://localhost:27017"})
//	if err != nil { ... }
//	defer client.Close()
//	users, _ := client.Model("users", polymongo.ModelOptions{Indexes: []polymongo.IndexModel{
//		{Keys: bson.D{{Key: "email", Value: 1}}, Options: &polymongo.IndexOptions{Unique: true}},
//	}})
//	tenant, _ := users.DB("tenant_1")
//	_, err = tenant.InsertOne(ctx, bson.D{{Key: "email", Value: "a@example.com"}})
//
// # Contexts
//
// Every method that can block takes a [context.Context] first. The underlying C calls block
// and cannot be interrupted, so when the context can be cancelled the call runs on its own
// goroutine and the method returns ctx.Err() as soon as the context is done. The C call then
// finishes in the background (it is bounded by the client's timeouts: serverSelectionTimeoutMS,
// waitQueueTimeoutMS, socket timeouts) and whatever it produced is released: a write that was
// already sent may still be applied, a cursor it opened is closed. For reads, the context's
// deadline is also sent to the server as maxTimeMS, so the server stops working on an
// abandoned query too. A context that can never be cancelled ([context.Background]) costs
// nothing: the call runs on the calling goroutine.
//
// # Errors
//
// Failures are *[Error] values carrying the polymongo [Code], the server's error code and
// message. They match the sentinel errors with [errors.Is] (for example
// errors.Is(err, polymongo.ErrDuplicateKey)); use [errors.As] to reach the details, including
// the per-index write errors and the partial result of a batch write.
//
// # The client's other services
//
// Besides CRUD: dedicated pools and routing rules at run time (SetDB, ConnectDB, AddRoute),
// draining and forced shutdown (CloseAll, ForceCloseAll), opt-in signal handling
// (HandleSignals), health (State, Ping), hooks (Subscribe, delivering [Event] values to a Go
// func on the library's dispatcher thread) and statistics (Stats, DBStats, ListDatabases,
// Usage, Prometheus), and whole databases as NDJSON (Export, Import, CopyDatabase,
// DropDatabase, ...).
//
// # Transactions
//
// [Client.StartSession] gives a [Session] on one pool; [DB.WithSession] binds a database to it,
// and [Session.WithTransaction] runs a func in a transaction with the drivers' retry
// semantics (or use StartTransaction, CommitTransaction, AbortTransaction). A session's calls
// are serialised. Servers without transactions (FerretDB, a standalone) refuse them with
// ErrNotSupported before anything is written; [Client.StartCompensating] gives a session that
// works anywhere by undoing its writes on abort.
//
// # Handles and threads
//
// Client, Model and DB are safe for concurrent use. A Cursor is used by one goroutine at a
// time. Close releases a handle at once; a handle that is forgotten is released when the
// garbage collector finds it unreachable. Handles may be closed in any order: a DB keeps
// working after its Model is closed. Closing the Client is final: it closes every model, db and
// cursor made from it (their later calls return ErrClosed) and shuts the pools down.
package polymongo
