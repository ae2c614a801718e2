#include "transfer.hpp"

#include <mongoc/mongoc.h>

#include <cstring>
#include <vector>

#include "error.hpp"
#include "events.hpp"
#include "wrapper.hpp"

namespace pm::core {

namespace {

constexpr uint64_t kProgressEvery = 1000;
constexpr size_t kReportedErrors = 10;

std::string canonical(const bson_t *b) { return to_json(b, true); }

std::string json_string(const std::string &s) {
  char *e = bson_utf8_escape_for_json(s.c_str(), static_cast<ssize_t>(s.size()));
  std::string out = std::string("\"") + (e ? e : "") + "\"";
  bson_free(e);
  return out;
}

struct Checkout {
  Lease lease;
  Checkout(Wrapper &w, const std::string &db) : lease(w.router().checkout(db)) {}
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

// Receives NDJSON lines and writes them into one database, in unordered batches.
class Importer {
 public:
  Importer(Wrapper &w, const std::string &db, const ImportOptions &options, const Progress &progress)
      : checkout_(w, db), db_(db), options_(options), progress_(progress) {}
  ~Importer() {
    // finish() normally closed it; after an exception, release without more I/O.
    if (coll_ != nullptr) mongoc_collection_destroy(coll_);
  }

  // Returns false once stopped (stopOnError); throws Error(invalid_argument) on a bad line.
  bool feed(const std::string &line) {
    ++line_no_;
    if (stopped_) return false;
    ExportRecord rec = parse_record(line, line_no_);
    switch (rec.type) {
      case ExportRecord::Type::blank:
      case ExportRecord::Type::meta:
        break;
      case ExportRecord::Type::collection:
        open_collection(rec.collection, rec.doc.get());
        break;
      case ExportRecord::Type::index:
        require_collection(rec.collection);
        pending_indexes_.push_back(std::move(rec.doc));
        break;
      case ExportRecord::Type::document:
        require_collection(rec.collection);
        bytes_ += rec.doc->len;
        batch_.push_back(std::move(rec.doc));
        if (batch_.size() >= options_.batch_size) flush();
        break;
      case ExportRecord::Type::collection_end:
        require_collection(rec.collection);
        close_collection();
        break;
    }
    return !stopped_;
  }

  std::string finish(const std::string *error_message) {
    close_collection();
    if (progress_) progress_(documents_, bytes_);
    std::string out = "{\"database\":" + json_string(db_) + ",\"lines\":" + std::to_string(line_no_) +
                      ",\"documents\":" + std::to_string(documents_) + ",\"failures\":" + std::to_string(failures_) +
                      ",\"collections\":[" + collections_ + "]";
    if (stopped_) out += ",\"stopped\":true";
    if (error_message) out += ",\"error\":" + json_string(*error_message);
    return out + ",\"ok\":" + (error_message == nullptr && failures_ == 0 ? "true" : "false") + "}";
  }

  uint64_t line() const { return line_no_; }

 private:
  void require_collection(const std::string &name) {
    if (coll_ == nullptr || name != name_) open_collection(name, nullptr);
  }

  void open_collection(const std::string &name, const bson_t *options) {
    close_collection();  // parse_record checked the name
    name_ = name;
    coll_docs_ = coll_failures_ = coll_indexes_ = 0;
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

  void flush() {
    if (batch_.empty() || coll_ == nullptr) return;
    std::vector<const bson_t *> docs;
    for (auto &d : batch_) docs.push_back(d.get());
    bson_t opts = BSON_INITIALIZER, reply;
    BSON_APPEND_BOOL(&opts, "ordered", false);
    bson_error_t error;
    bool ok = mongoc_collection_insert_many(coll_, docs.data(), docs.size(), &opts, &reply, &error);
    bson_destroy(&opts);
    bson_iter_t it;
    int64_t inserted = bson_iter_init_find(&it, &reply, "insertedCount") ? bson_iter_as_int64(&it) : 0;
    int64_t failed = static_cast<int64_t>(docs.size()) - inserted;
    bson_destroy(&reply);
    batch_.clear();
    if (!ok && inserted == 0 && error.domain != MONGOC_ERROR_SERVER && error.domain != MONGOC_ERROR_COMMAND &&
        error.domain != MONGOC_ERROR_WRITE_CONCERN)
      throw Error::from_driver(error, "import into " + db_ + "." + name_);  // the connection, not the data
    coll_docs_ += static_cast<uint64_t>(inserted);
    documents_ += static_cast<uint64_t>(inserted);
    if (failed > 0) {
      coll_failures_ += static_cast<uint64_t>(failed);
      failures_ += static_cast<uint64_t>(failed);
      note_error(error.message);
      if (options_.stop_on_error) stopped_ = true;
    }
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
    std::string errors;
    for (auto &e : coll_errors_) errors += (errors.empty() ? "" : ",") + json_string(e);
    collections_ += (collections_.empty() ? "" : ",") + std::string("{\"name\":") + json_string(name_) +
                    ",\"documents\":" + std::to_string(coll_docs_) + ",\"indexes\":" + std::to_string(coll_indexes_) +
                    ",\"failures\":" + std::to_string(coll_failures_) + ",\"errors\":[" + errors + "]}";
    mongoc_collection_destroy(coll_);
    coll_ = nullptr;
  }

  Checkout checkout_;
  std::string db_;
  ImportOptions options_;
  Progress progress_;
  uint64_t line_no_ = 0, documents_ = 0, bytes_ = 0, failures_ = 0, last_progress_ = 0;
  bool stopped_ = false;
  std::string name_;
  mongoc_collection_t *coll_ = nullptr;
  std::vector<BsonPtr> batch_, pending_indexes_;
  uint64_t coll_docs_ = 0, coll_failures_ = 0, coll_indexes_ = 0;
  std::vector<std::string> coll_errors_;
  std::string collections_;
};

std::string run_import(Importer &importer, const std::function<void(Importer &)> &drive) {
  try {
    drive(importer);
  } catch (const Error &e) {
    if (e.code() != Code::invalid_argument) throw;
    // A bad record: everything before it is written (the pending batch too); report and fail.
    std::string message = e.what();
    std::string report = importer.finish(&message);
    throw Error(Code::invalid_argument, message + "\n" + report);
  }
  return importer.finish(nullptr);
}

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

uint64_t export_database(Wrapper &w, const std::string &db, const LineSink &sink, const Progress &progress) {
  Checkout out(w, db);
  mongoc_client_t *client = out.lease.client();
  auto emit = [&](const std::string &line) {
    if (!sink(line)) throw Error(Code::internal, "export of " + db + ": the output failed");
  };
  bson_t meta = BSON_INITIALIZER;
  BSON_APPEND_UTF8(&meta, "type", "meta");
  BSON_APPEND_UTF8(&meta, "format", kExportFormat);
  BSON_APPEND_INT32(&meta, "version", kExportVersion);
  BSON_APPEND_UTF8(&meta, "database", db.c_str());
  BSON_APPEND_DATE_TIME(&meta, "exportedAt", now_wall_ms());
  emit(canonical(&meta));
  bson_destroy(&meta);

  uint64_t documents = 0, bytes = 0, last = 0;
  for (const CollectionInfo &info : list_collections(client, db)) {
    bson_t rec = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&rec, "type", "collection");
    BSON_APPEND_UTF8(&rec, "name", info.name.c_str());
    BSON_APPEND_DOCUMENT(&rec, "options", info.options.get());
    emit(canonical(&rec));
    bson_destroy(&rec);

    mongoc_collection_t *coll = mongoc_client_get_collection(client, db.c_str(), info.name.c_str());
    mongoc_cursor_t *indexes = mongoc_collection_find_indexes_with_opts(coll, nullptr);
    const bson_t *spec;
    while (mongoc_cursor_next(indexes, &spec)) {
      bson_iter_t it;
      if (bson_iter_init_find(&it, spec, "name") && BSON_ITER_HOLDS_UTF8(&it) &&
          std::strcmp(bson_iter_utf8(&it, nullptr), "_id_") == 0)
        continue;
      bson_t idx = BSON_INITIALIZER;
      BSON_APPEND_UTF8(&idx, "type", "index");
      BSON_APPEND_UTF8(&idx, "collection", info.name.c_str());
      BSON_APPEND_DOCUMENT(&idx, "spec", spec);
      emit(canonical(&idx));
      bson_destroy(&idx);
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
    std::string prefix = "{\"type\":\"document\",\"collection\":" + json_string(info.name) + ",\"doc\":";
    uint64_t count = 0;
    const bson_t *doc;
    while (mongoc_cursor_next(docs, &doc)) {
      emit(prefix + canonical(doc) + "}");
      ++count;
      bytes += doc->len;
      if (progress && (documents + count) / kProgressEvery != last) {
        last = (documents + count) / kProgressEvery;
        progress(documents + count, bytes);
      }
    }
    failed = mongoc_cursor_error(docs, &error);
    mongoc_cursor_destroy(docs);
    mongoc_collection_destroy(coll);
    if (failed) throw Error::from_driver(error, "export " + db + "." + info.name);
    documents += count;
    emit("{\"type\":\"collectionEnd\",\"collection\":" + json_string(info.name) + ",\"documents\":" +
         std::to_string(count) + "}");
  }
  if (progress) progress(documents, bytes);
  return documents;
}

std::string import_database(Wrapper &w, const std::string &db, const LineSource &source,
                            const ImportOptions &options, const Progress &progress) {
  Importer importer(w, db, options, progress);
  return run_import(importer, [&](Importer &im) {
    std::string line;
    while (source(line))
      if (!im.feed(line)) break;
  });
}

std::string copy_database(Wrapper &w, const std::string &from, const std::string &to,
                          const ImportOptions &options, const Progress &progress) {
  if (from == to) fail(Code::invalid_argument, "copy: the source and the target are the same database");
  Importer importer(w, to, options, progress);
  return run_import(importer, [&](Importer &im) {
    export_database(w, from, [&](const std::string &line) { return im.feed(line) || true; }, nullptr);
  });
}

BsonPtr export_document(Wrapper &w, const std::string &db) {
  // Collected per collection, then assembled: the in-memory form holds the database anyway.
  struct Coll {
    std::string name;
    BsonPtr options = make_bson(), indexes = make_bson(), documents = make_bson();
    uint32_t n_indexes = 0, n_documents = 0;
  };
  std::vector<Coll> colls;
  export_database(w, db, [&](const std::string &line) {
    bson_error_t error;
    BsonPtr rec(bson_new_from_json(reinterpret_cast<const uint8_t *>(line.data()), static_cast<ssize_t>(line.size()), &error));
    if (!rec) return false;
    bson_iter_t it, sub;
    std::string type = bson_iter_init_find(&it, rec.get(), "type") ? bson_iter_utf8(&it, nullptr) : "";
    auto child = [&](const char *key, const bson_t **out, bson_t *storage) {
      uint32_t len;
      const uint8_t *data;
      if (!bson_iter_init_find(&sub, rec.get(), key)) return false;
      bson_iter_document(&sub, &len, &data);
      bson_init_static(storage, data, len);
      *out = storage;
      return true;
    };
    bson_t storage;
    const bson_t *d = nullptr;
    char buf[16];
    const char *key;
    if (type == "collection") {
      colls.push_back(Coll{});
      colls.back().name = bson_iter_init_find(&it, rec.get(), "name") ? bson_iter_utf8(&it, nullptr) : "";
      if (child("options", &d, &storage)) colls.back().options = BsonPtr(bson_copy(d));
    } else if (type == "index" && !colls.empty() && child("spec", &d, &storage)) {
      bson_uint32_to_string(colls.back().n_indexes++, &key, buf, sizeof buf);
      BSON_APPEND_DOCUMENT(colls.back().indexes.get(), key, d);
    } else if (type == "document" && !colls.empty() && child("doc", &d, &storage)) {
      bson_uint32_to_string(colls.back().n_documents++, &key, buf, sizeof buf);
      BSON_APPEND_DOCUMENT(colls.back().documents.get(), key, d);
    }
    return true;
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

std::string import_document(Wrapper &w, const std::string &db, const bson_t *doc, const ImportOptions &options) {
  Importer importer(w, db, options, nullptr);
  return run_import(importer, [&](Importer &im) {
    bson_iter_t it, colls;
    if (!bson_iter_init_find(&it, doc, "collections") || !BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &colls))
      fail(Code::invalid_argument, "import: the document has no \"collections\" (an export_document result)");
    while (bson_iter_next(&colls)) {
      std::string name = bson_iter_key(&colls);
      bson_iter_t part, items;
      bson_t rec = BSON_INITIALIZER;
      BSON_APPEND_UTF8(&rec, "type", "collection");
      BSON_APPEND_UTF8(&rec, "name", name.c_str());
      bson_t empty = BSON_INITIALIZER;
      bool has_options = bson_iter_recurse(&colls, &part) && bson_iter_find(&part, "options") && BSON_ITER_HOLDS_DOCUMENT(&part);
      if (has_options) bson_append_iter(&rec, "options", 7, &part);
      else BSON_APPEND_DOCUMENT(&rec, "options", &empty);
      im.feed(canonical(&rec));
      bson_destroy(&rec);
      for (const char *kind : {"indexes", "documents"}) {
        if (!(bson_iter_recurse(&colls, &part) && bson_iter_find(&part, kind) && bson_iter_recurse(&part, &items))) continue;
        while (bson_iter_next(&items)) {
          bson_t r = BSON_INITIALIZER;
          bool index = std::strcmp(kind, "indexes") == 0;
          BSON_APPEND_UTF8(&r, "type", index ? "index" : "document");
          BSON_APPEND_UTF8(&r, "collection", name.c_str());
          bson_append_iter(&r, index ? "spec" : "doc", -1, &items);
          im.feed(canonical(&r));
          bson_destroy(&r);
        }
      }
      im.feed("{\"type\":\"collectionEnd\",\"collection\":" + json_string(name) + "}");
      bson_destroy(&empty);
    }
  });
}

void drop_database(Wrapper &w, const std::string &db) {
  w.streams().close(&db);  // before the drop: its streams would only see an invalidate
  Checkout out(w, db);
  mongoc_database_t *d = mongoc_client_get_database(out.lease.client(), db.c_str());
  bson_error_t error;
  bool ok = mongoc_database_drop_with_opts(d, nullptr, &error);
  mongoc_database_destroy(d);
  if (!ok) throw Error::from_driver(error, "drop database " + db);
  w.streams().close(&db);
  w.forget_database(db);
}

}  // namespace pm::core
