//go:build cgo

package polymongo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// seedTransfer fills a database with typed documents and a unique index; it returns the
// documents as the server holds them.
func seedTransfer(t *testing.T, c *Client, name string, n int) []bson.D {
	t.Helper()
	m := mustModel(t, c, "items", ModelOptions{Indexes: []IndexModel{
		{Keys: bson.D{{Key: "k", Value: 1}}, Options: &IndexOptions{Name: "k_unique", Unique: true}}}})
	d := mustDB(t, m, name)
	docs := make([]any, n)
	for i := range docs {
		docs[i] = bson.D{{Key: "_id", Value: i}, {Key: "k", Value: fmt.Sprintf("key-%04d", i)},
			{Key: "l", Value: int64(i) << 33}, {Key: "f", Value: float64(i) + 0.25},
			{Key: "t", Value: bson.DateTime(1700000000000 + int64(i))},
			{Key: "b", Value: bson.Binary{Subtype: 4, Data: []byte{byte(i), 1, 2}}},
			{Key: "nested", Value: bson.D{{Key: "a", Value: bson.A{int32(1), "two", nil}}}}}
	}
	if _, err := d.InsertMany(context.Background(), docs); err != nil {
		t.Fatal(err)
	}
	return readAll(t, newChecker(t), name, "items")
}

// readAll is every document of a collection, in _id order, field order included.
func readAll(t *testing.T, ck *checker, db, coll string) []bson.D {
	t.Helper()
	cur, err := ck.client.Database(db).Collection(coll).Find(context.Background(), bson.D{},
		options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		t.Fatal(err)
	}
	var out []bson.D
	if err := cur.All(context.Background(), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

type failingWriter struct {
	n   int
	err error
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n == 0 {
		return 0, w.err
	}
	w.n--
	return len(p), nil
}

func TestExportImportRoundTrip(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	src, dst := uniqueDB("export_src"), uniqueDB("export_dst")
	want := seedTransfer(t, c, src, 2500)

	var buf bytes.Buffer
	var progress [][2]uint64
	err := c.Export(ctx, src, &buf, &ExportOptions{Progress: func(docs, bytes uint64) {
		progress = append(progress, [2]uint64{docs, bytes})
	}})
	if err != nil {
		t.Fatalf("Export: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	compact := strings.ReplaceAll(buf.String(), " ", "")
	if !strings.HasPrefix(compact, `{"type":"meta","format":"polymongo-export"`) ||
		!strings.Contains(compact, `"type":"index"`) || !strings.Contains(compact, `"k_unique"`) ||
		!strings.Contains(lines[len(lines)-1], `"collectionEnd"`) || len(lines) < 2503 {
		t.Fatalf("export:\n%s\n...\n%s", lines[0], lines[len(lines)-1])
	}
	if len(progress) < 3 || progress[len(progress)-1][0] != 2500 || progress[len(progress)-1][1] == 0 {
		t.Fatalf("progress: %v", progress)
	}

	var importProgress uint64
	rep, err := c.Import(ctx, dst, bytes.NewReader(buf.Bytes()), &ImportOptions{BatchSize: 700,
		Progress: func(docs, _ uint64) { importProgress = docs }})
	if err != nil {
		t.Fatalf("Import: %v (%+v)", err, rep)
	}
	if rep == nil || !rep.OK || rep.Documents != 2500 || rep.Failures != 0 || rep.Database != dst ||
		len(rep.Collections) != 1 || rep.Collections[0].Name != "items" || rep.Collections[0].Indexes < 1 || importProgress != 2500 {
		t.Fatalf("report: %+v, progress %d", rep, importProgress)
	}
	ck := newChecker(t)
	got := readAll(t, ck, dst, "items")
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("the import differs from the original:\n%v\n%v", got[:1], want[:1])
	}
	if _, ok := ck.indexes(dst, "items")["k_unique"]; !ok {
		t.Fatalf("indexes of the import: %v", ck.indexes(dst, "items"))
	}

	// Importing again: every document is refused (duplicate keys), counted, and reported.
	rep, err = c.Import(ctx, dst, bytes.NewReader(buf.Bytes()))
	if !errors.Is(err, ErrWrite) || rep == nil || rep.Failures != 2500 || rep.OK || len(rep.Collections[0].Errors) == 0 {
		t.Fatalf("second import: %v, %+v", err, rep)
	}
	// A malformed line stops the import, naming the line.
	bad := lines[0] + "\n" + lines[1] + "\n{not json\n"
	rep, err = c.Import(ctx, uniqueDB("export_bad"), strings.NewReader(bad))
	if pe := asError(t, err, CodeInvalidArgument); !strings.Contains(pe.Message, "line 3") {
		t.Fatalf("malformed line: %v (%+v)", err, rep)
	}

	// A failing writer stops the export with its error; so does a cancelled context.
	errDisk := errors.New("disk full")
	if err := c.Export(ctx, src, &failingWriter{n: 5, err: errDisk}); !errors.Is(err, errDisk) {
		t.Fatalf("failing writer: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	calls := 0
	err = c.Export(cctx, src, writerFunc(func(p []byte) (int, error) {
		if calls++; calls == 10 {
			cancel()
		}
		return len(p), nil
	}))
	if !errors.Is(err, context.Canceled) || calls != 10 {
		t.Fatalf("cancelled export: %v after %d lines", err, calls)
	}
	// A panic in the writer resumes in the caller once C has returned.
	func() {
		defer func() {
			if r := recover(); r != "writer broke" {
				t.Fatalf("recovered %v", r)
			}
		}()
		c.Export(ctx, src, writerFunc(func([]byte) (int, error) { panic("writer broke") }))
		t.Fatal("no panic")
	}()
	// A failing reader.
	errRead := errors.New("network down")
	_, err = c.Import(ctx, uniqueDB("export_r"), readerFunc(func([]byte) (int, error) { return 0, errRead }))
	if !errors.Is(err, errRead) {
		t.Fatalf("failing reader: %v", err)
	}
	if err := c.Export(ctx, "bad/name", &buf); !errors.Is(err, ErrInvalidDBName) {
		t.Fatalf("Export(bad/name): %v", err)
	}
	if err := c.Export(ctx, src, nil); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Export(nil writer): %v", err)
	}
	if _, err := c.Import(ctx, dst, strings.NewReader(""), &ImportOptions{BatchSize: 1000000}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("BatchSize out of range: %v", err)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func TestExportFileCopyAndDropDatabases(t *testing.T) {
	c := newClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	src := uniqueDB("xfer_src")
	want := seedTransfer(t, c, src, 300)
	ck := newChecker(t)

	path := filepath.Join(t.TempDir(), "export.ndjson")
	if err := c.ExportFile(ctx, src, path); err != nil {
		t.Fatalf("ExportFile: %v", err)
	}
	if b, err := os.ReadFile(path); err != nil || bytes.Count(b, []byte("\n")) < 303 {
		t.Fatalf("export file: %d bytes, %v", len(b), err)
	}
	fromFile := uniqueDB("xfer_file")
	if rep, err := c.ImportFile(ctx, fromFile, path); err != nil || rep.Documents != 300 {
		t.Fatalf("ImportFile: %v, %+v", err, rep)
	}
	if _, err := c.ImportFile(ctx, fromFile, filepath.Join(t.TempDir(), "missing")); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("ImportFile(missing): %v", err)
	}

	// Copy into a database with a dedicated pool (another pool; could be another cluster).
	copied := uniqueDB("xfer_copy")
	if err := c.SetDB(ctx, PoolSpec{}, copied); err != nil {
		t.Fatal(err)
	}
	var copyProgress uint64
	rep, err := c.CopyDatabase(ctx, src, copied, &ImportOptions{Progress: func(d, _ uint64) { copyProgress = d }})
	if err != nil || rep.Documents != 300 || copyProgress != 300 {
		t.Fatalf("CopyDatabase: %v, %+v, progress %d", err, rep, copyProgress)
	}

	// The in-memory form, and back.
	doc, err := c.ExportDocument(ctx, src)
	if err != nil {
		t.Fatalf("ExportDocument: %v", err)
	}
	items, err := doc.LookupErr("collections", "items", "documents")
	if err != nil {
		t.Fatalf("ExportDocument shape: %v", err)
	}
	if vals, _ := items.Array().Values(); len(vals) != 300 {
		t.Fatalf("%d documents in the export document", len(vals))
	}
	fromDoc := uniqueDB("xfer_doc")
	if rep, err := c.ImportDocument(ctx, fromDoc, doc); err != nil || rep.Documents != 300 {
		t.Fatalf("ImportDocument: %v, %+v", err, rep)
	}
	for _, name := range []string{fromFile, copied, fromDoc} {
		if got := readAll(t, ck, name, "items"); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s differs from the original", name)
		}
	}

	// Drop: the database is gone; the model creates its indexes again on next use.
	if err := c.DropDatabase(ctx, fromDoc); err != nil {
		t.Fatalf("DropDatabase: %v", err)
	}
	if ck.databases()[fromDoc] || ck.count(fromDoc, "items", nil) != 0 {
		t.Fatal("the dropped database is still there")
	}
	m := mustModel(t, c, "items", ModelOptions{Indexes: []IndexModel{{Keys: bson.D{{Key: "k", Value: 1}}, Options: &IndexOptions{Name: "k_unique", Unique: true}}}})
	if _, err := mustDB(t, m, fromDoc).InsertOne(ctx, bson.D{{Key: "k", Value: "again"}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := ck.indexes(fromDoc, "items")["k_unique"]; !ok {
		t.Fatal("the model's index was not created again after the drop")
	}
	if err := c.DropDatabase(ctx, "bad.name"); !errors.Is(err, ErrInvalidDBName) {
		t.Fatalf("DropDatabase(bad.name): %v", err)
	}
	if _, err := c.CopyDatabase(ctx, src, "bad/name"); !errors.Is(err, ErrInvalidDBName) {
		t.Fatalf("CopyDatabase(bad/name): %v", err)
	}
	if _, err := c.ImportDocument(ctx, fromDoc, 42); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("ImportDocument(42): %v", err)
	}
}
