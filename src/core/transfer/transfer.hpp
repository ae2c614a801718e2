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
#include <string>

#include "base/doc.hpp"
#include "transfer/ndjson_reader.hpp"

namespace pm::core {

class Wrapper;

using Progress = std::function<void(uint64_t documents, uint64_t bytes)>;
// Receives one NDJSON line (without the newline); returns false to stop with an error.
using LineSink = std::function<bool(const std::string &line)>;

struct ImportOptions {
  size_t batch_size = 1000;
  bool stop_on_error = false;
  static ImportOptions parse(DocView opts);
};

// Streams `db` as NDJSON lines into `sink`. Returns the number of documents exported.
uint64_t export_database(Wrapper &w, const std::string &db, const LineSink &sink, const Progress &progress);

// Reads NDJSON lines into `db`; returns the report (JSON). A malformed line stops the import
// with Error(invalid_argument) naming its line number, after everything before it was written.
std::string import_database(Wrapper &w, const std::string &db, const LineSource &source,
                            const ImportOptions &options, const Progress &progress);

// Exports `from` straight into an import of `to` (any pool or cluster), line by line.
std::string copy_database(Wrapper &w, const std::string &from, const std::string &to,
                          const ImportOptions &options, const Progress &progress);

// The in-memory form: {database, exportedAt, collections: {name: {options, indexes, documents}}}.
BsonPtr export_document(Wrapper &w, const std::string &db);
std::string import_document(Wrapper &w, const std::string &db, const bson_t *doc, const ImportOptions &options);

void drop_database(Wrapper &w, const std::string &db);

}  // namespace pm::core
