// Fuzzes the NDJSON import reader without a server: the line reader over a source that hands
// out the input in chunks of a fuzzed size, and the record parser on every line. The lines must
// be exactly the input split at newlines; a record is either accepted with what its type needs
// (a valid collection name, its document) or refused with Error(invalid_argument) naming its
// line: "line N: ...".
//
// The first byte picks the chunk size; the rest is the file.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "transfer/ndjson_reader.hpp"
#include "fuzz_check.hpp"

using namespace pm::core;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  const size_t chunk = data[0] == 0 ? 65536 : data[0];
  const std::string file(reinterpret_cast<const char *>(data + 1), size - 1);

  size_t given = 0;
  LineSource lines = ndjson_lines([&](char *buf, size_t cap) -> long {
    size_t n = std::min({cap, chunk, file.size() - given});
    std::memcpy(buf, file.data() + given, n);
    given += n;
    return static_cast<long>(n);
  });

  std::vector<std::string> read;
  std::string line;
  while (lines(line)) read.push_back(line);
  CHECK(!lines(line));  // the end stays the end

  // The lines joined again give the file back (its last newline is optional).
  std::string joined;
  for (size_t i = 0; i < read.size(); ++i) joined += (i ? "\n" : "") + read[i];
  if (!file.empty() && file.back() == '\n') joined += '\n';
  CHECK(joined == file);

  for (size_t i = 0; i < read.size(); ++i) {
    const std::string prefix = "line " + std::to_string(i + 1) + ": ";
    try {
      ExportRecord rec = parse_record(read[i], i + 1);
      switch (rec.type) {
        case ExportRecord::Type::blank:
          CHECK(read[i].find_first_not_of(" \t\r") == std::string::npos);
          break;
        case ExportRecord::Type::meta:
          break;
        case ExportRecord::Type::collection:
        case ExportRecord::Type::index:
        case ExportRecord::Type::document:
          size_t offset;
          CHECK(rec.doc != nullptr && bson_validate(rec.doc.get(), BSON_VALIDATE_NONE, &offset));
          [[fallthrough]];
        case ExportRecord::Type::collection_end:
          CHECK(!rec.collection.empty());
          CHECK(rec.collection.find('$') == std::string::npos);
          CHECK(rec.collection.find('\0') == std::string::npos);
          break;
      }
    } catch (const Error &e) {
      CHECK(e.code() == Code::invalid_argument);
      CHECK(std::strncmp(e.what(), prefix.c_str(), prefix.size()) == 0);
      CHECK(std::strlen(e.what()) > prefix.size());
    }
  }
  return 0;
}
