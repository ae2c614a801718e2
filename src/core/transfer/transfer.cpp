#include "transfer/transfer.hpp"

#include <mongoc/mongoc.h>

#include <cstring>
#include <vector>

#include "base/error.hpp"
#include "base/json_writer.hpp"

namespace pm::core {

namespace {

constexpr uint64_t kProgressEvery = 1000;
constexpr size_t kReportedErrors = 10;

std::string canonical(const bson_t *b) { return to_json(b, true); }

struct Checkout {
  Lease lease;
  Checkout(Router &router, const std::string &db) : lease(router.checkout(db)) {}
};

// One collection of a database as listCollections reports it.
struct CollectionInfo {
  std::string name;
  BsonPtr options;
};

std::vector<CollectionInfo> list_collections(mongoc_client_t *client, const std::string &db) {
  mongoc_database_t *d = mongoc_client_get_database(client, db.c_str());
  mongoc_cursor_t *c = mongoc_database_find_collections_with_opts(d, nullptr);
  std::vector<CollectionInfo> out;
  const bson_t *info;
  while (mongoc_cursor_next(c, &info)) {
    bson_iter_t it;
    if (bson_iter_init_find(&it, info, "type") && BSON_ITER_HOLDS_UTF8(&it) &&
        std::strcmp(bson_iter_utf8(&it, nullptr), "collection") != 0)
      continue;  // views and the like are not data
    if (!bson_iter_init_find(&it, info, "name") || !BSON_ITER_HOLDS_UTF8(&it)) continue;
    std::string name = bson_iter_utf8(&it, nullptr);
    if (name.rfind("system.", 0) == 0) continue;
    BsonPtr options = make_bson();
    if (bson_iter_init_find(&it, info, "options") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
      uint32_t len;
      const uint8_t *data;
      bson_iter_document(&it, &len, &data);
      options = BsonPtr(bson_new_from_data(data, len));
    }
    out.push_back({name, std::move(options)});
  }
  bson_error_t error;
  bool failed = mongoc_cursor_error(c, &error);
  mongoc_cursor_destroy(c);
  mongoc_database_destroy(d);
  if (failed) throw Error::from_driver(error, "list the collections of " + db);
  return out;
}

// The largest document a server takes (maxBsonObjectSize of every MongoDB-compatible server):
// refused here, before libmongoc would fail its whole batch.
constexpr uint32_t kMaxDocumentSize = 16 * 1024 * 1024;

// Receives records (NDJSON lines, or records straight from an export) and writes them into one
// database, in unordered batches. A document that is not valid BSON, or too large, is refused
// before anything is sent: a failure of its own, counted and reported with its place, which
// never fails the other documents of its batch.
class Importer {
 public:
  // How a failure names its document: by NDJSON line, or by its position in its collection.
  enum class Places { lines, positions };
  Importer(Router &router, const std::string &db, const ImportOptions &options, const Progress &progress,
           Places places = Places::lines)
      : checkout_(router, db), db_(db), options_(options), progress_(progress), places_(places) {}
  ~Importer() {
    // finish() normally closed it; after an exception, release without more I/O.
    if (coll_ != nullptr) mongoc_collection_destroy(coll_);
  }

  // One NDJSON line. Returns false once stopped (stopOnError); throws Error(invalid_argument)
  // on a malformed line.
  bool feed(const std::string &line) {
    ++line_no_;
    if (stopped_) return false;
    ExportRecord rec = parse_record(line, line_no_);
    return feed_record(rec.type, rec.collection, rec.doc.get(), rec.problem);
  }

  // One record (the document is copied). Returns false once stopped.
  bool feed(ExportRecord::Type type, const std::string &collection, const bson_t *doc) {
    ++line_no_;
    if (stopped_) return false;
    std::string problem;
    if (type == ExportRecord::Type::document) problem = doc ? bson_problem(doc) : "not framed as a BSON document";
    return feed_record(type, collection, doc, problem);
  }

  ImportReport finish(const std::string *error_message) {
    close_collection();
    if (progress_) progress_(documents_, bytes_);
    ImportReport r;
    r.database = db_;
    r.lines = line_no_;
    r.documents = documents_;
    r.failures = failures_;
    r.collections = std::move(collections_);
    r.stopped = stopped_;
    if (error_message) r.error = *error_message;
    return r;
  }

  uint64_t line() const { return line_no_; }

 private:
  struct Pending {
    BsonPtr doc;
    uint64_t place;  // line number, or position in the collection
  };

  bool feed_record(ExportRecord::Type type, const std::string &collection, const bson_t *doc,
                   const std::string &problem) {
    switch (type) {
      case ExportRecord::Type::blank:
      case ExportRecord::Type::meta:
        break;
      case ExportRecord::Type::collection:
        open_collection(collection, doc);
        break;
      case ExportRecord::Type::index:
        require_collection(collection);
        pending_indexes_.push_back(BsonPtr(bson_copy(doc)));
        break;
      case ExportRecord::Type::document: {
        require_collection(collection);
        uint64_t place = places_ == Places::lines ? line_no_ : coll_seen_;
        ++coll_seen_;
        if (!problem.empty() || doc->len > kMaxDocumentSize) {
          refuse(place, problem.empty() ? "larger than the 16 MiB a server stores" : "not valid BSON: " + problem);
          break;
        }
        bytes_ += doc->len;
        batch_.push_back(Pending{BsonPtr(bson_copy(doc)), place});
        if (batch_.size() >= options_.batch_size) flush();
        break;
      }
      case ExportRecord::Type::collection_end:
        require_collection(collection);
        close_collection();
        break;
    }
    return !stopped_;
  }

  std::string place_name(uint64_t place) const {
    return places_ == Places::lines ? "line " + std::to_string(place) : "document " + std::to_string(place);
  }

  // A document refused before it was sent: everything before it is written first, so that
  // stopOnError stops exactly there.
  void refuse(uint64_t place, const std::string &why) {
    if (options_.stop_on_error) flush();
    count_failures(1);
    note_error(place_name(place) + ": " + why);
    if (options_.stop_on_error) stopped_ = true;
  }

  void count_failures(uint64_t n) {
    coll_failures_ += n;
    failures_ += n;
  }

  void require_collection(const std::string &name) {
    if (coll_ == nullptr || name != name_) open_collection(name, nullptr);
  }

  void open_collection(const std::string &name, const bson_t *options) {
    close_collection();  // parse_record checked the name
    name_ = name;
    coll_docs_ = coll_failures_ = coll_indexes_ = coll_seen_ = 0;
    coll_errors_.clear();
    bson_t cmd = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&cmd, "create", name.c_str());
    if (options) bson_concat(&cmd, options);
    bson_error_t error;
    bool ok = mongoc_client_write_command_with_opts(checkout_.lease.client(), db_.c_str(), &cmd, nullptr, nullptr, &error);
    bson_destroy(&cmd);
    if (!ok && error.code != 48) note_error(std::string("create collection: ") + error.message);  // 48: exists
    coll_ = mongoc_client_get_collection(checkout_.lease.client(), db_.c_str(), name.c_str());
  }

  // Inserts `docs` unordered; returns how many were inserted, and notes each refused one by
  // its place. A refusal by the driver of the whole batch (nothing sent) is tried again one
  // document at a time, so that it fails only the document it is about.
  int64_t insert(const std::vector<Pending *> &docs) {
    std::vector<const bson_t *> ptrs;
    for (Pending *d : docs) ptrs.push_back(d->doc.get());
    bson_t opts = BSON_INITIALIZER, reply;
    bson_concat(&opts, driver_skips_validation());  // bson_problem checked every document
    BSON_APPEND_BOOL(&opts, "ordered", false);
    bson_error_t error;
    bool ok = mongoc_collection_insert_many(coll_, ptrs.data(), ptrs.size(), &opts, &reply, &error);
    bson_destroy(&opts);
    bson_iter_t it;
    int64_t inserted = bson_iter_init_find(&it, &reply, "insertedCount") ? bson_iter_as_int64(&it) : 0;
    bool client_side = !ok && inserted == 0 && !bson_has_field(&reply, "writeErrors") &&
                       (error.domain == MONGOC_ERROR_BSON ||
                        (error.domain == MONGOC_ERROR_COMMAND && error.code == MONGOC_ERROR_COMMAND_INVALID_ARG));
    if (client_side && docs.size() > 1) {
      bson_destroy(&reply);
      int64_t n = 0;
      for (Pending *d : docs) n += insert({d});
      return n;
    }
    if (!ok && inserted == 0 && !client_side && error.domain != MONGOC_ERROR_SERVER &&
        error.domain != MONGOC_ERROR_COMMAND && error.domain != MONGOC_ERROR_WRITE_CONCERN) {
      bson_destroy(&reply);
      throw Error::from_driver(error, "import into " + db_ + "." + name_);  // the connection, not the data
    }
    int64_t failed = static_cast<int64_t>(docs.size()) - inserted;
    if (failed > 0) {
      count_failures(static_cast<uint64_t>(failed));
      bson_iter_t errors, one;
      size_t named = 0;
      if (bson_iter_init_find(&it, &reply, "writeErrors") && bson_iter_recurse(&it, &errors)) {
        while (bson_iter_next(&errors) && bson_iter_recurse(&errors, &one)) {
          int64_t index = -1;
          std::string message = "refused by the server";
          while (bson_iter_next(&one)) {
            if (std::strcmp(bson_iter_key(&one), "index") == 0) index = bson_iter_as_int64(&one);
            else if (std::strcmp(bson_iter_key(&one), "errmsg") == 0 && BSON_ITER_HOLDS_UTF8(&one))
              message = bson_iter_utf8(&one, nullptr);
          }
          if (index >= 0 && static_cast<size_t>(index) < docs.size()) {
            note_error(place_name(docs[static_cast<size_t>(index)]->place) + ": " + message);
            ++named;
          }
        }
      }
      if (named == 0) {
        std::string first = docs.size() == 1 ? place_name(docs.front()->place) + ": " : std::string();
        note_error(first + error.message);
      }
    }
    bson_destroy(&reply);
    return inserted;
  }

  void flush() {
    if (batch_.empty() || coll_ == nullptr) return;
    std::vector<Pending *> docs;
    for (auto &d : batch_) docs.push_back(&d);
    int64_t inserted = insert(docs);
    bool failed = static_cast<size_t>(inserted) < batch_.size();
    batch_.clear();
    coll_docs_ += static_cast<uint64_t>(inserted);
    documents_ += static_cast<uint64_t>(inserted);
    if (failed && options_.stop_on_error) stopped_ = true;
    if (progress_ && documents_ / kProgressEvery != last_progress_) {
      last_progress_ = documents_ / kProgressEvery;
      progress_(documents_, bytes_);
    }
  }

  void note_error(const std::string &message) {
    if (coll_errors_.size() < kReportedErrors) coll_errors_.push_back(message);
  }

  // Flushes, creates the collection's indexes (after its documents), and reports it.
  void close_collection() {
    if (coll_ == nullptr) return;
    flush();
    if (!pending_indexes_.empty() && !stopped_) {
      bson_t cmd = BSON_INITIALIZER, arr;
      BSON_APPEND_UTF8(&cmd, "createIndexes", name_.c_str());
      BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &arr);
      uint32_t i = 0;
      for (auto &spec : pending_indexes_) {
        char buf[16];
        const char *key;
        bson_uint32_to_string(i++, &key, buf, sizeof buf);
        bson_t clean;
        bson_append_document_begin(&arr, key, -1, &clean);
        copy_except(spec.get(), &clean, {"v", "ns"});
        bson_append_document_end(&arr, &clean);
      }
      bson_append_array_end(&cmd, &arr);
      bson_error_t error;
      if (mongoc_client_write_command_with_opts(checkout_.lease.client(), db_.c_str(), &cmd, nullptr, nullptr, &error))
        coll_indexes_ = pending_indexes_.size();
      else
        note_error(std::string("create indexes: ") + error.message);
      bson_destroy(&cmd);
    }
    pending_indexes_.clear();
    collections_.push_back({name_, coll_docs_, coll_indexes_, coll_failures_, coll_errors_});
    mongoc_collection_destroy(coll_);
    coll_ = nullptr;
  }

  Checkout checkout_;
  std::string db_;
  ImportOptions options_;
  Progress progress_;
  Places places_;
  uint64_t line_no_ = 0, documents_ = 0, bytes_ = 0, failures_ = 0, last_progress_ = 0;
  bool stopped_ = false;
  std::string name_;
  mongoc_collection_t *coll_ = nullptr;
  std::vector<Pending> batch_;
  std::vector<BsonPtr> pending_indexes_;
  uint64_t coll_docs_ = 0, coll_failures_ = 0, coll_indexes_ = 0, coll_seen_ = 0;
  std::vector<std::string> coll_errors_;
  std::vector<ImportReport::Collection> collections_;
};

ImportReport run_import(Importer &importer, const std::function<void(Importer &)> &drive) {
  try {
    drive(importer);
  } catch (const Error &e) {
    if (e.code() != Code::invalid_argument) throw;
    // A bad record: everything before it is written (the pending batch too); the report says
    // where it stopped and why.
    std::string message = e.what();
    return importer.finish(&message);
  }
  return importer.finish(nullptr);
}

// One record of an export, as export_records hands it out (doc borrowed for the call).
struct Record {
  ExportRecord::Type type;
  const std::string &collection;
  const bson_t *doc;   // options, spec or document; null for meta and collectionEnd
  uint64_t documents;  // collectionEnd: the collection's count
};
using RecordFn = std::function<void(const Record &)>;

// Streams `db` as records into `emit`; returns the number of documents.
uint64_t export_records(Router &router, const std::string &db, const RecordFn &emit, const Progress &progress);

}  // namespace

ImportOptions ImportOptions::parse(DocView opts) {
  ImportOptions o;
  Doc d(opts, "import options");
  bson_iter_t it;
  bson_iter_init(&it, d.get());
  while (bson_iter_next(&it)) {
    const char *key = bson_iter_key(&it);
    if (std::strcmp(key, "batchSize") == 0) {
      if (!BSON_ITER_HOLDS_NUMBER(&it) || bson_iter_as_int64(&it) < 1 || bson_iter_as_int64(&it) > 100000)
        fail(Code::invalid_argument, "batchSize must be a number from 1 to 100000");
      o.batch_size = static_cast<size_t>(bson_iter_as_int64(&it));
    } else if (std::strcmp(key, "stopOnError") == 0) {
      o.stop_on_error = bson_iter_as_bool(&it);
    } else {
      fail(Code::invalid_argument, std::string("import options: unknown option '") + key + "'");
    }
  }
  return o;
}

namespace {

uint64_t export_records(Router &router, const std::string &db, const RecordFn &emit, const Progress &progress) {
  Checkout out(router, db);
  mongoc_client_t *client = out.lease.client();
  const std::string none;
  emit(Record{ExportRecord::Type::meta, none, nullptr, 0});

  uint64_t documents = 0, bytes = 0, last = 0;
  for (const CollectionInfo &info : list_collections(client, db)) {
    emit(Record{ExportRecord::Type::collection, info.name, info.options.get(), 0});

    mongoc_collection_t *coll = mongoc_client_get_collection(client, db.c_str(), info.name.c_str());
    mongoc_cursor_t *indexes = mongoc_collection_find_indexes_with_opts(coll, nullptr);
    const bson_t *spec;
    while (mongoc_cursor_next(indexes, &spec)) {
      bson_iter_t it;
      if (bson_iter_init_find(&it, spec, "name") && BSON_ITER_HOLDS_UTF8(&it) &&
          std::strcmp(bson_iter_utf8(&it, nullptr), "_id_") == 0)
        continue;
      emit(Record{ExportRecord::Type::index, info.name, spec, 0});
    }
    bson_error_t error;
    bool failed = mongoc_cursor_error(indexes, &error);
    mongoc_cursor_destroy(indexes);
    if (failed) {
      mongoc_collection_destroy(coll);
      throw Error::from_driver(error, "export the indexes of " + db + "." + info.name);
    }

    bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
    BSON_APPEND_INT32(&opts, "batchSize", 1000);
    mongoc_cursor_t *docs = mongoc_collection_find_with_opts(coll, &filter, &opts, nullptr);
    bson_destroy(&filter);
    bson_destroy(&opts);
    uint64_t count = 0;
    const bson_t *doc;
    try {
      while (mongoc_cursor_next(docs, &doc)) {
        emit(Record{ExportRecord::Type::document, info.name, doc, 0});
        ++count;
        bytes += doc->len;
        if (progress && (documents + count) / kProgressEvery != last) {
          last = (documents + count) / kProgressEvery;
          progress(documents + count, bytes);
        }
      }
    } catch (...) {
      mongoc_cursor_destroy(docs);
      mongoc_collection_destroy(coll);
      throw;
    }
    failed = mongoc_cursor_error(docs, &error);
    mongoc_cursor_destroy(docs);
    mongoc_collection_destroy(coll);
    if (failed) throw Error::from_driver(error, "export " + db + "." + info.name);
    documents += count;
    emit(Record{ExportRecord::Type::collection_end, info.name, nullptr, count});
  }
  if (progress) progress(documents, bytes);
  return documents;
}

}  // namespace

uint64_t export_database(Router &router, const std::string &db, const LineSink &sink, const Progress &progress) {
  auto emit = [&](const std::string &line) {
    if (!sink(line)) throw Error(Code::internal, "export of " + db + ": the output failed");
  };
  std::string prefix, prefix_of;
  return export_records(router, db, [&](const Record &r) {
    bson_t rec = BSON_INITIALIZER;
    switch (r.type) {
      case ExportRecord::Type::meta:
        BSON_APPEND_UTF8(&rec, "type", "meta");
        BSON_APPEND_UTF8(&rec, "format", kExportFormat);
        BSON_APPEND_INT32(&rec, "version", kExportVersion);
        BSON_APPEND_UTF8(&rec, "database", db.c_str());
        BSON_APPEND_DATE_TIME(&rec, "exportedAt", now_wall_ms());
        break;
      case ExportRecord::Type::collection:
        BSON_APPEND_UTF8(&rec, "type", "collection");
        BSON_APPEND_UTF8(&rec, "name", r.collection.c_str());
        BSON_APPEND_DOCUMENT(&rec, "options", r.doc);
        break;
      case ExportRecord::Type::index:
        BSON_APPEND_UTF8(&rec, "type", "index");
        BSON_APPEND_UTF8(&rec, "collection", r.collection.c_str());
        BSON_APPEND_DOCUMENT(&rec, "spec", r.doc);
        break;
      case ExportRecord::Type::document: {
        bson_destroy(&rec);
        if (prefix_of != r.collection || prefix.empty()) {
          prefix = "{\"type\":\"document\",\"collection\":" + json_quote(r.collection) + ",";
          prefix_of = r.collection;
        }
        // Canonical Extended JSON, unless the text could not hold the document exactly: then
        // its bytes (an invalid document is refused by the import, with its line).
        std::string json = json_exact(r.doc) ? canonical(r.doc) : std::string();
        if (!json.empty()) {
          emit(prefix + "\"doc\":" + json + "}");
          return;
        }
        bson_init(&rec);
        BSON_APPEND_UTF8(&rec, "type", "document");
        BSON_APPEND_UTF8(&rec, "collection", r.collection.c_str());
        BSON_APPEND_BINARY(&rec, "bson", BSON_SUBTYPE_BINARY, bson_get_data(r.doc), r.doc->len);
        break;
      }
      case ExportRecord::Type::collection_end:
        bson_destroy(&rec);
        emit("{\"type\":\"collectionEnd\",\"collection\":" + json_quote(r.collection) + ",\"documents\":" +
             std::to_string(r.documents) + "}");
        return;
      case ExportRecord::Type::blank:
        break;
    }
    std::string line = canonical(&rec);
    bson_destroy(&rec);
    emit(line);
  }, progress);
}

ImportReport import_database(Router &router, const std::string &db, const LineSource &source,
                            const ImportOptions &options, const Progress &progress) {
  Importer importer(router, db, options, progress);
  return run_import(importer, [&](Importer &im) {
    std::string line;
    while (source(line))
      if (!im.feed(line)) break;
  });
}

ImportReport copy_database(Router &router, const std::string &from, const std::string &to,
                          const ImportOptions &options, const Progress &progress) {
  if (from == to) fail(Code::invalid_argument, "copy: the source and the target are the same database");
  // Records go from the export to the import as BSON: no text in between.
  Importer importer(router, to, options, progress, Importer::Places::positions);
  return run_import(importer, [&](Importer &im) {
    export_records(router, from, [&](const Record &r) { im.feed(r.type, r.collection, r.doc); }, nullptr);
  });
}

ImportReport copy_between(Router &from, Router &to, const std::string &db, const ImportOptions &options,
                          const Progress &progress) {
  Importer importer(to, db, options, progress, Importer::Places::positions);
  return run_import(importer, [&](Importer &im) {
    export_records(from, db, [&](const Record &r) { im.feed(r.type, r.collection, r.doc); }, nullptr);
  });
}

BsonPtr export_document(Router &router, const std::string &db) {
  // Collected per collection, then assembled: the in-memory form holds the database anyway.
  struct Coll {
    std::string name;
    BsonPtr options = make_bson(), indexes = make_bson(), documents = make_bson();
    uint32_t n_indexes = 0, n_documents = 0;
  };
  std::vector<Coll> colls;
  export_records(router, db, [&](const Record &r) {
    char buf[16];
    const char *key;
    if (r.type == ExportRecord::Type::collection) {
      colls.push_back(Coll{});
      colls.back().name = r.collection;
      colls.back().options = BsonPtr(bson_copy(r.doc));
    } else if (r.type == ExportRecord::Type::index && !colls.empty()) {
      bson_uint32_to_string(colls.back().n_indexes++, &key, buf, sizeof buf);
      BSON_APPEND_DOCUMENT(colls.back().indexes.get(), key, r.doc);
    } else if (r.type == ExportRecord::Type::document && !colls.empty()) {
      bson_uint32_to_string(colls.back().n_documents++, &key, buf, sizeof buf);
      // A stored document that is not valid BSON goes as its bytes (binary), which keeps the
      // export valid; the import refuses it, counted.
      if (well_formed(r.doc)) BSON_APPEND_DOCUMENT(colls.back().documents.get(), key, r.doc);
      else BSON_APPEND_BINARY(colls.back().documents.get(), key, BSON_SUBTYPE_BINARY, bson_get_data(r.doc), r.doc->len);
    }
  }, nullptr);
  BsonPtr out = make_bson();
  BSON_APPEND_UTF8(out.get(), "database", db.c_str());
  BSON_APPEND_DATE_TIME(out.get(), "exportedAt", now_wall_ms());
  bson_t all;
  BSON_APPEND_DOCUMENT_BEGIN(out.get(), "collections", &all);
  for (auto &c : colls) {
    bson_t one;
    bson_append_document_begin(&all, c.name.c_str(), -1, &one);
    BSON_APPEND_DOCUMENT(&one, "options", c.options.get());
    BSON_APPEND_ARRAY(&one, "indexes", c.indexes.get());
    BSON_APPEND_ARRAY(&one, "documents", c.documents.get());
    bson_append_document_end(&all, &one);
  }
  bson_append_document_end(out.get(), &all);
  return out;
}

ImportReport import_document(Router &router, const std::string &db, const bson_t *doc, const ImportOptions &options) {
  // `doc` is only framed (see pm_wrapper_import_document): each document in it is checked
  // on its own, and one that is not valid BSON is a counted failure.
  Importer importer(router, db, options, nullptr, Importer::Places::positions);
  return run_import(importer, [&](Importer &im) {
    bson_iter_t it, colls;
    if (!bson_iter_init_find(&it, doc, "collections") || !BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &colls))
      fail(Code::invalid_argument, "import: the document has no \"collections\" (an export_document result)");
    while (bson_iter_next(&colls)) {
      std::string name = bson_iter_key(&colls);
      if (name.empty() || name.find('$') != std::string::npos || !BSON_ITER_HOLDS_DOCUMENT(&colls))
        fail(Code::invalid_argument, "import: invalid collection \"" + name + "\"");
      bson_iter_t part, items;
      bson_t options_doc = BSON_INITIALIZER;
      bool has_options = bson_iter_recurse(&colls, &part) && bson_iter_find(&part, "options") && BSON_ITER_HOLDS_DOCUMENT(&part);
      if (has_options) {
        uint32_t len;
        const uint8_t *data;
        bson_iter_document(&part, &len, &data);
        bson_destroy(&options_doc);
        bson_init_static(&options_doc, data, len);
      }
      if (!well_formed(&options_doc)) fail(Code::invalid_argument, "import: the options of \"" + name + "\" are not valid BSON");
      if (!im.feed(ExportRecord::Type::collection, name, &options_doc)) return;
      for (const char *kind : {"indexes", "documents"}) {
        if (!(bson_iter_recurse(&colls, &part) && bson_iter_find(&part, kind) && bson_iter_recurse(&part, &items))) continue;
        bool index = std::strcmp(kind, "indexes") == 0;
        while (bson_iter_next(&items)) {
          uint32_t len = 0;
          const uint8_t *data = nullptr;
          if (BSON_ITER_HOLDS_DOCUMENT(&items)) bson_iter_document(&items, &len, &data);
          else if (!index && BSON_ITER_HOLDS_BINARY(&items)) bson_iter_binary(&items, nullptr, &len, &data);
          else fail(Code::invalid_argument, std::string("import: an entry of \"") + name + "\"." + kind + " is not a document");
          bson_t one;
          bool framed = len >= 5 && bson_init_static(&one, data, len);
          if (index) {
            if (!framed || !well_formed(&one)) fail(Code::invalid_argument, "import: an index of \"" + name + "\" is not valid BSON");
            if (!im.feed(ExportRecord::Type::index, name, &one)) return;
          } else if (!im.feed(ExportRecord::Type::document, name, framed ? &one : nullptr)) {
            return;
          }
        }
      }
      if (!im.feed(ExportRecord::Type::collection_end, name, nullptr)) return;
    }
  });
}

void drop_database(Router &router, const std::string &db) {
  Checkout out(router, db);
  mongoc_database_t *d = mongoc_client_get_database(out.lease.client(), db.c_str());
  bson_error_t error;
  bool ok = mongoc_database_drop_with_opts(d, nullptr, &error);
  mongoc_database_destroy(d);
  if (!ok) throw Error::from_driver(error, "drop database " + db);
}

std::string ImportReport::to_json() const {
  JsonWriter j;
  j.begin_object()
      .key("database").value(database)
      .key("lines").value(lines)
      .key("documents").value(documents)
      .key("failures").value(failures)
      .key("collections").begin_array();
  for (const Collection &c : collections) {
    j.begin_object()
        .key("name").value(c.name)
        .key("documents").value(c.documents)
        .key("indexes").value(c.indexes)
        .key("failures").value(c.failures)
        .key("errors").begin_array();
    for (const std::string &e : c.errors) j.value(e);
    j.end_array().end_object();
  }
  j.end_array();
  if (stopped) j.key("stopped").value(true);
  if (error) j.key("error").value(*error);
  j.key("ok").value(ok()).end_object();
  return j.take();
}

}  // namespace pm::core
