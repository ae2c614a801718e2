//go:build cgo

package polymongo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestErrorsMatchTheirSentinels(t *testing.T) {
	sentinels := map[Code]error{
		CodeInvalidArgument: ErrInvalidArgument, CodeInvalidDBName: ErrInvalidDBName,
		CodeConnection: ErrConnection, CodeTimeout: ErrTimeout, CodeAuth: ErrAuth,
		CodeDuplicateKey: ErrDuplicateKey, CodeServer: ErrServer, CodeClosed: ErrClosed,
		CodeNotSupported: ErrNotSupported, CodeInternal: ErrInternal, CodeWrite: ErrWrite,
	}
	for code, want := range sentinels {
		var err error = &Error{Code: code, Message: "m"}
		for other, s := range sentinels {
			if errors.Is(err, s) != (other == code) {
				t.Fatalf("%v: errors.Is(%v) = %v", code, s, !(other == code))
			}
		}
		if !strings.HasPrefix(code.String(), "PM_E") || !strings.Contains(err.Error(), code.String()) {
			t.Fatalf("%v: %q", code, err.Error())
		}
		var pe *Error
		if !errors.As(err, &pe) || pe.Code != code || errors.As(want, &pe) && pe.Code != code {
			t.Fatalf("%v: errors.As", code)
		}
	}
	// A batch whose failures are all duplicate keys: both ErrDuplicateKey and ErrWrite.
	err := &Error{Code: CodeDuplicateKey, WriteErrors: []WriteError{{Index: 2, Code: 11000}}}
	if !errors.Is(err, ErrDuplicateKey) || !errors.Is(err, ErrWrite) || errors.Is(err, ErrServer) {
		t.Fatal("dupkey batch")
	}
	// Go-side failures keep their cause.
	_, err2 := toDoc(42, "document")
	var pe *Error
	if !errors.As(err2, &pe) || pe.Code != CodeInvalidArgument || errors.Unwrap(err2) == nil {
		t.Fatalf("marshal failure: %#v", err2)
	}
	if !IsDuplicateKey(11000) || !IsDuplicateKey(11001) || !IsDuplicateKey(12582) || IsDuplicateKey(2) {
		t.Fatal("IsDuplicateKey")
	}
}

func TestExtendedJSONAndRawDocuments(t *testing.T) {
	canonical := `{"i":{"$numberInt":"1"},"l":{"$numberLong":"2"},"d":{"$numberDouble":"1.5"},` +
		`"t":{"$date":{"$numberLong":"1700000000000"}},"o":{"$oid":"5f0000000000000000000001"},` +
		`"b":{"$binary":{"base64":"AQI=","subType":"04"}}}`
	raw, err := JSONToBSON(canonical)
	if err != nil {
		t.Fatal(err)
	}
	back, err := BSONToJSON(raw, true)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ReplaceAll(back, " ", "") != canonical {
		t.Fatalf("round trip:\n%s\n%s", back, canonical)
	}
	if _, err := BSONToJSON([]byte{1, 2, 3, 4, 5}, false); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("garbage: %v", err)
	}
	if _, err := JSONToBSON("{nope"); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("bad json: %v", err)
	}

	// Documents as ExtJSON text and as raw bytes, read back typed through the official driver.
	c := newClient(t)
	name := uniqueDB("extjson")
	d := mustDB(t, mustModel(t, c, "typed"), name)
	ctx := context.Background()
	if _, err := d.InsertOne(ctx, ExtJSON(canonical)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.InsertOne(ctx, bson.Raw(raw)); err != nil {
		t.Fatal(err)
	}
	docs := newChecker(t).find(name, "typed", bson.D{{Key: "o", Value: mustOID(t, "5f0000000000000000000001")}}, nil)
	if len(docs) != 2 {
		t.Fatalf("%d documents", len(docs))
	}
	for _, doc := range docs {
		if doc["i"] != int32(1) || doc["l"] != int64(2) || doc["d"] != 1.5 ||
			doc["t"] != bson.DateTime(1700000000000) {
			t.Fatalf("types not preserved: %#v", doc)
		}
		if b, ok := doc["b"].(bson.Binary); !ok || b.Subtype != 4 || string(b.Data) != "\x01\x02" {
			t.Fatalf("binary: %#v", doc["b"])
		}
	}
	// The whole write result is available as BSON (and so as JSON).
	res, err := d.BulkWrite(ctx, []WriteModel{&InsertOneModel{Document: ExtJSON(`{"_id": 7}`)}})
	if err != nil {
		t.Fatal(err)
	}
	js, err := BSONToJSON(res.Raw, false)
	if err != nil || !strings.Contains(js, `"insertedIds"`) || !strings.Contains(js, `"0" : 7`) {
		t.Fatalf("result JSON: %s, %v", js, err)
	}
}

func mustOID(t *testing.T, hex string) bson.ObjectID {
	t.Helper()
	id, err := bson.ObjectIDFromHex(hex)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestCallbacksGoThroughCTrampolines(t *testing.T) {
	if got := callThroughC(func(v int) int { return 2*v + 1 }, 20); got != 41 {
		t.Fatalf("callback returned %d", got)
	}
	// A panic in a callback never unwinds through C: it reaches the panic handler.
	var mu sync.Mutex
	var recovered []any
	SetPanicHandler(func(r any) {
		mu.Lock()
		recovered = append(recovered, r)
		mu.Unlock()
	})
	defer SetPanicHandler(nil)
	if got := callThroughC(func(int) int { panic("boom") }, 1); got != -1 {
		t.Fatalf("panicking callback returned %d", got)
	}
	if len(recovered) != 1 || recovered[0] != "boom" {
		t.Fatalf("recovered %v", recovered)
	}
	// From many goroutines at once (the hooks will run on a C thread).
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				if got := callThroughC(func(v int) int { return v + g }, i); got != i+g {
					t.Errorf("callback returned %d, want %d", got, i+g)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// Every function of the C header is bound, or listed here with the reason it is not: a new
// function in the header fails this test until the binding catches up.
var deliberatelyUnbound = map[string]string{
	"pm_last_error":  "errors come through the pm_error out-parameter; a thread-local would need runtime.LockOSThread",
	"pm_result_json": "BulkWriteResult.Raw holds the result document; BSONToJSON renders it",
	// takeResult reads the counts from the result document in the same pass as the ids.
	"pm_result_inserted_count": "read from the result document (pm_result_bson)",
	"pm_result_matched_count":  "read from the result document (pm_result_bson)",
	"pm_result_modified_count": "read from the result document (pm_result_bson)",
	"pm_result_deleted_count":  "read from the result document (pm_result_bson)",
	"pm_result_upserted_count": "read from the result document (pm_result_bson)",
	"pm_cursor_next_json":      "Cursor.Current holds the BSON; BSONToJSON renders it",
	"pm_stream_next_json":      "ChangeStream.Current holds the BSON; BSONToJSON renders it",
	// Operations that complete later: Go stays blocking, goroutines are its async form.
	"pm_async_submit":     "Go calls block; goroutines are Go's way to wait without blocking",
	"pm_async_cancel":     "Go calls block; goroutines are Go's way to wait without blocking",
	"pm_async_stats":      "Go calls block; goroutines are Go's way to wait without blocking",
	"pm_completion_clear": "Go calls block; goroutines are Go's way to wait without blocking",
	"pm_cq_new":           "Go calls block; goroutines are Go's way to wait without blocking",
	"pm_cq_fd":            "Go calls block; goroutines are Go's way to wait without blocking",
	"pm_cq_poll":          "Go calls block; goroutines are Go's way to wait without blocking",
	"pm_cq_free":          "Go calls block; goroutines are Go's way to wait without blocking",
	"pm_db_wrapper":       "a Db keeps its Client; the C handle is for pm_async_submit",
	// WithTransaction runs its body in pm_session_with_transaction, which retries by these.
	"pm_session_transaction_labels": "WithTransaction retries inside pm_session_with_transaction",
}

func TestEveryHeaderFunctionIsBound(t *testing.T) {
	include := os.Getenv("PM_INCLUDE_DIR")
	if include == "" {
		include = filepath.Join("..", "include")
	}
	headers, _ := filepath.Glob(filepath.Join(include, "polymongo", "*.h"))
	headers = append(headers, filepath.Join(include, "polymongo.h"))
	decl := regexp.MustCompile(`PM_EXTERN[^;]*?\b(pm_[a-z0-9_]+)\s*\(`)
	declared := map[string]bool{}
	for _, h := range headers {
		b, err := os.ReadFile(h)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range decl.FindAllStringSubmatch(string(b), -1) {
			declared[m[1]] = true
		}
	}
	if len(declared) < 30 {
		t.Fatalf("only %d functions found in %s", len(declared), include)
	}
	sources, _ := filepath.Glob("*.go")
	used := map[string]bool{}
	call := regexp.MustCompile(`\bC\.(pm_[a-z0-9_]+)\b`)
	for _, f := range sources {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range call.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = true
		}
	}
	var missing []string
	for fn := range declared {
		if !used[fn] && deliberatelyUnbound[fn] == "" {
			missing = append(missing, fn)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("C functions without a Go binding (bind them or list them in deliberatelyUnbound): %v", missing)
	}
	for fn := range deliberatelyUnbound {
		if !declared[fn] {
			t.Fatalf("%s is listed as unbound but is not in the header any more", fn)
		}
	}
	_ = time.Now
}

func TestIDsDecodeLikeUnmarshal(t *testing.T) {
	for _, v := range []any{int32(7), int64(1) << 40, "tenant_7", bson.NewObjectID(), 2.5, true,
		bson.D{{Key: "a", Value: int32(1)}}, bson.A{"x"}, bson.DateTime(1700000000000)} {
		raw, err := bson.Marshal(bson.D{{Key: "0", Value: v}})
		if err != nil {
			t.Fatal(err)
		}
		val := bson.Raw(raw).Lookup("0")
		var want any
		if err := val.Unmarshal(&want); err != nil {
			t.Fatal(err)
		}
		got, err := rawAny(val)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%T: rawAny = %#v (%v), Unmarshal = %#v", v, got, err, want)
		}
		if m := ids(bson.Raw(raw).Lookup("missing")); len(m) != 0 {
			t.Fatalf("ids of a missing value: %v", m)
		}
		if m := ids(mustMarshal(t, bson.D{{Key: "ids", Value: bson.Raw(raw)}}).Lookup("ids")); !reflect.DeepEqual(m[0], want) {
			t.Fatalf("%T: ids = %#v", v, m)
		}
	}
}

func mustMarshal(t *testing.T, v any) bson.Raw {
	t.Helper()
	b, err := bson.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
