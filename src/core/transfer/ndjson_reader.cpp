#include "transfer/ndjson_reader.hpp"

#include <cstring>
#include <memory>

#include "base/error.hpp"

namespace pm::core {

namespace {

// Buffers what `read` produces; hands out one line at a time without moving the rest.
class LineReader {
 public:
  explicit LineReader(ReadFn read) : read_(std::move(read)) {}

  bool next(std::string &line) {
    for (;;) {
      size_t nl = buffer_.find('\n', scanned_);
      if (nl != std::string::npos) {
        line.assign(buffer_, start_, nl - start_);
        start_ = scanned_ = nl + 1;
        return true;
      }
      scanned_ = buffer_.size();
      if (done_) {
        if (start_ == buffer_.size()) return false;
        line.assign(buffer_, start_, std::string::npos);  // a last line without a newline
        start_ = scanned_ = buffer_.size();
        return true;
      }
      // Drop the lines already handed out before reading more.
      buffer_.erase(0, start_);
      scanned_ -= start_;
      start_ = 0;
      long n = read_(chunk_, sizeof chunk_);
      // More than asked for would read past the chunk: treat it as the error it is.
      if (n < 0 || static_cast<unsigned long>(n) > sizeof chunk_)
        throw Error(Code::internal, "import: the input could not be read");
      if (n == 0) done_ = true;
      else buffer_.append(chunk_, static_cast<size_t>(n));
    }
  }

 private:
  ReadFn read_;
  std::string buffer_;
  size_t start_ = 0;    // where the next line begins
  size_t scanned_ = 0;  // no newline in [start_, scanned_)
  bool done_ = false;
  char chunk_[65536];  // here rather than on the caller's stack
};

class RecordParser {
 public:
  RecordParser(const std::string &line, uint64_t line_no) : line_(line), line_no_(line_no) {}

  ExportRecord parse() {
    ExportRecord out;
    if (line_.find_first_not_of(" \t\r") == std::string::npos) return out;
    bson_error_t error;
    rec_ = json_to_new_bson(line_.data(), static_cast<ssize_t>(line_.size()), &error);
    if (!rec_) bad(std::string("malformed JSON: ") + error.message);
    bson_iter_t it;
    if (!bson_iter_init_find(&it, rec_.get(), "type") || !BSON_ITER_HOLDS_UTF8(&it))
      bad("a record without a \"type\"");
    std::string type = utf8(&it, "type");
    if (type == "meta") {
      out.type = ExportRecord::Type::meta;
      std::string format = string_field("format");
      if (format != kExportFormat) bad("not a polymongo export (format \"" + format + "\")");
      if (!bson_iter_init_find(&it, rec_.get(), "version") || bson_iter_as_int64(&it) > kExportVersion)
        bad("unsupported export version");
    } else if (type == "collection") {
      out.type = ExportRecord::Type::collection;
      out.collection = collection_field("name");
      out.doc = document_field("options");
    } else if (type == "index") {
      out.type = ExportRecord::Type::index;
      out.collection = collection_field("collection");
      out.doc = document_field("spec");
    } else if (type == "document") {
      out.type = ExportRecord::Type::document;
      out.collection = collection_field("collection");
      if (bson_iter_init_find(&it, rec_.get(), "bson")) {
        if (!BSON_ITER_HOLDS_BINARY(&it)) bad("field \"bson\" is not binary data");
        uint32_t len = 0;
        const uint8_t *data = nullptr;
        bson_iter_binary(&it, nullptr, &len, &data);
        out.problem = bson_problem(data, len);
        out.doc.reset(bson_new_from_data(data, len));
      } else {
        out.doc = document_field("doc");
        out.problem = bson_problem(out.doc.get());
      }
    } else if (type == "collectionEnd") {
      out.type = ExportRecord::Type::collection_end;
      out.collection = collection_field("collection");
    } else {
      bad("unknown record type \"" + type + "\"");
    }
    return out;
  }

 private:
  [[noreturn]] void bad(const std::string &why) const {
    throw Error(Code::invalid_argument, "line " + std::to_string(line_no_) + ": " + why);
  }

  // A NUL inside a string would silently cut it short (a name, then, of another collection).
  std::string utf8(const bson_iter_t *it, const char *key) const {
    uint32_t len = 0;
    const char *s = bson_iter_utf8(it, &len);
    if (std::memchr(s, '\0', len) != nullptr)
      bad(std::string("string field \"") + key + "\" contains a NUL byte");
    return std::string(s, len);
  }

  std::string string_field(const char *key) const {
    bson_iter_t it;
    if (!bson_iter_init_find(&it, rec_.get(), key) || !BSON_ITER_HOLDS_UTF8(&it))
      bad(std::string("missing string field \"") + key + "\"");
    return utf8(&it, key);
  }

  std::string collection_field(const char *key) const {
    std::string name = string_field(key);
    if (name.empty() || name.find('$') != std::string::npos) bad("invalid collection name");
    return name;
  }

  BsonPtr document_field(const char *key) const {
    bson_iter_t it;
    if (!bson_iter_init_find(&it, rec_.get(), key) || !BSON_ITER_HOLDS_DOCUMENT(&it))
      bad(std::string("missing document field \"") + key + "\"");
    uint32_t len;
    const uint8_t *data;
    bson_iter_document(&it, &len, &data);
    return BsonPtr(bson_new_from_data(data, len));
  }

  const std::string &line_;
  uint64_t line_no_;
  BsonPtr rec_;
};

}  // namespace

LineSource ndjson_lines(ReadFn read) {
  auto reader = std::make_shared<LineReader>(std::move(read));
  return [reader](std::string &line) { return reader->next(line); };
}

ExportRecord parse_record(const std::string &line, uint64_t line_no) {
  return RecordParser(line, line_no).parse();
}

}  // namespace pm::core
