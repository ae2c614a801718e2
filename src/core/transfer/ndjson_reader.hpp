// Reading an export without a server: NDJSON lines from a byte source, and each line checked
// as one record (see transfer.hpp for the format). The importer writes what this returns.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "base/doc.hpp"

namespace pm::core {

// What the meta record names: the format, and the newest version this build reads.
constexpr const char *kExportFormat = "polymongo-export";
constexpr int kExportVersion = 1;

// Produces the next line into `line`; returns false at the end.
using LineSource = std::function<bool(std::string &line)>;
// Fills up to `cap` bytes of `buf`; returns how many, 0 at the end, or < 0 on a read error.
using ReadFn = std::function<long(char *buf, size_t cap)>;

// Splits what `read` produces into lines without their "\n"; a last line without a newline
// is a line too. A read error throws Error(internal).
LineSource ndjson_lines(ReadFn read);

// One record, checked: a `collection`, `index`, `document` or `collectionEnd` record names a
// valid collection, and carries its document (options, spec, doc) where its type has one.
// A document record carries its document as canonical Extended JSON in "doc", or, where that
// text cannot hold it exactly (a NaN payload, a non-canonical Decimal128, bytes that are not
// valid BSON), as its BSON bytes in "bson" ({"$binary": {"base64": ..., "subType": "00"}}).
struct ExportRecord {
  enum class Type { blank, meta, collection, index, document, collection_end };
  Type type = Type::blank;  // blank: an empty or whitespace-only line
  std::string collection;
  BsonPtr doc;          // null for a document whose bytes are not even framed as one
  std::string problem;  // a document that is not valid BSON: why (bson_problem); it is not written
};

// Parses line number `line_no`. A malformed or truncated record throws
// Error(invalid_argument) "line N: <why>".
ExportRecord parse_record(const std::string &line, uint64_t line_no);

}  // namespace pm::core
