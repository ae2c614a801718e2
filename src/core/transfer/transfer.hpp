// Export, import and copy of whole databases as NDJSON records, in constant memory:
//   {"type":"meta","format":"polymongo-export","version":1,"database":...,"exportedAt":...}
//   {"type":"collection","name":...,"options":{...}}
//   {"type":"index","collection":...,"spec":{key, name, unique, ...}}
//   {"type":"document","collection":...,"doc":<canonical Extended JSON>}
//   {"type":"collectionEnd","collection":...,"documents":N}
// Documents are canonical Extended JSON, so every BSON type round-trips exactly.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/doc.hpp"
#include "pool/router.hpp"
#include "transfer/ndjson_reader.hpp"

namespace pm::core {

using Progress = std::function<void(uint64_t documents, uint64_t bytes)>;
// Receives one NDJSON line (without the newline); returns false to stop with an error.
using LineSink = std::function<bool(const std::string &line)>;

// What an import (or copy) did: returned as a value; the C API hands out its JSON form.
struct ImportReport {
  struct Collection {
    std::string name;
    uint64_t documents = 0, indexes = 0, failures = 0;
    std::vector<std::string> errors;  // the first few, each naming its line or position
  };
  std::string database;
  uint64_t lines = 0, documents = 0, failures = 0;  // failures: documents refused
  std::vector<Collection> collections;
  bool stopped = false;              // stopOnError stopped it at the first failure
  std::optional<std::string> error;  // a malformed record stopped it (everything before was written)

  bool ok() const { return !error && failures == 0; }
  // {database, lines, documents, failures, collections: [{name, documents, indexes, failures,
  // errors}], stopped?, error?, ok}
  std::string to_json() const;
};

struct ImportOptions {
  size_t batch_size = 1000;
  bool stop_on_error = false;
  static ImportOptions parse(DocView opts);
};

// Every function takes the router that serves the databases it reads and writes.

// Streams `db` as NDJSON lines into `sink`. Returns the number of documents exported.
uint64_t export_database(Router &router, const std::string &db, const LineSink &sink, const Progress &progress);

// Reads NDJSON lines into `db`; returns the report. A malformed line stops the import, after
// everything before it was written: the report's `error` names its line number.
ImportReport import_database(Router &router, const std::string &db, const LineSource &source,
                            const ImportOptions &options, const Progress &progress);

// Exports `from` straight into an import of `to` (any pool or cluster), line by line.
ImportReport copy_database(Router &router, const std::string &from, const std::string &to,
                          const ImportOptions &options, const Progress &progress);

// The same with a router for each side: `db` read through `from`, written through `to` (a
// tenant moving between clusters keeps its name).
ImportReport copy_between(Router &from, Router &to, const std::string &db, const ImportOptions &options,
                          const Progress &progress);

// The in-memory form: {database, exportedAt, collections: {name: {options, indexes, documents}}}.
BsonPtr export_document(Router &router, const std::string &db);
ImportReport import_document(Router &router, const std::string &db, const bson_t *doc, const ImportOptions &options);

// Drops `db` on the server (Wrapper::drop_database also ends its streams and models' caches).
void drop_database(Router &router, const std::string &db);

}  // namespace pm::core
