// Fuzzes documents and filters, as Extended JSON (the PM_JSON length sentinel) and as BSON
// bytes: the core's Doc parser and JSON conversion, pm_json_to_bson / pm_bson_to_json, model
// options, and the pm_db_* calls that take documents. Those run on a wrapper whose URI names
// a loopback port nothing listens on, with serverSelectionTimeoutMS=1: input that passes
// validation fails fast with PM_ECONNECT or PM_ETIMEOUT, input that does not with PM_EINVAL.
//
// The first byte picks what is fuzzed; the rest is the document text or bytes. For the pm_db_*
// calls, newlines split it into the call's documents (filter, update, options ...).
#include <polymongo.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "base/doc.hpp"
#include "base/error.hpp"
#include "fuzz_check.hpp"

using namespace pm::core;

namespace {

pm_wrapper *g_wrapper = nullptr;
pm_model *g_model = nullptr;
pm_db *g_db = nullptr;

// A failed call names its failure; no input may make polymongo report an internal error, and
// nothing can succeed without a server.
void check_rc(int rc, const pm_error &err) {
  if (rc == PM_EINTERNAL) std::fprintf(stderr, "fuzz_document: %s: %s\n", pm_code_name(rc), err.message);
  if (rc != PM_OK) CHECK(err.message[0] != '\0');
  CHECK(rc != PM_EINTERNAL);
  CHECK(rc == PM_OK || rc == PM_EINVAL || rc == PM_ECONNECT || rc == PM_ETIMEOUT || rc == PM_ENOTSUP);
}

// True when a key anywhere in the document starts with '$': Extended JSON cannot always tell
// such a document from a type wrapper ({"$oid": "not hex"} is valid BSON, not valid JSON).
bool has_dollar_key(const bson_t *b, int depth = 0) {
  bson_iter_t it, child;
  if (depth > 200 || !bson_iter_init(&it, b)) return false;
  while (bson_iter_next(&it)) {
    if (bson_iter_key(&it)[0] == '$') return true;
    if ((BSON_ITER_HOLDS_DOCUMENT(&it) || BSON_ITER_HOLDS_ARRAY(&it)) && bson_iter_recurse(&it, &child)) {
      uint32_t len;
      const uint8_t *data;
      bson_t sub;
      if (BSON_ITER_HOLDS_DOCUMENT(&it)) bson_iter_document(&it, &len, &data);
      else bson_iter_array(&it, &len, &data);
      if (bson_init_static(&sub, data, len) && has_dollar_key(&sub, depth + 1)) return true;
    }
  }
  return false;
}

// Parses JSON that polymongo printed; only libbson's JSON nesting limit (100) may refuse it
// (and, with `ambiguous`, the reader's reading of '$' keys as type wrappers).
bool reparses(const char *json, pm_buf *out, bool ambiguous = false) {
  pm_error err;
  if (pm_json_to_bson(json, out, &err) == PM_OK) return true;
  if (ambiguous) return false;
  if (std::strstr(err.message, "LEVELS_EXCEEDED") == nullptr)
    std::fprintf(stderr, "fuzz_document: printed JSON does not parse: %s\n%s\n", err.message, json);
  CHECK(std::strstr(err.message, "LEVELS_EXCEEDED") != nullptr);
  return false;
}

// Extended JSON: the core parser and the public conversions agree, and canonical output reads
// back to the same canonical output.
void json_round_trip(const std::string &text) {
  bool core_ok = true;
  std::string canonical, relaxed;
  try {
    Doc d(DocView{text.c_str(), kJsonLength}, "document");
    canonical = to_json(d.get(), true);
    relaxed = to_json(d.get(), false);
  } catch (const Error &e) {
    CHECK(e.code() == Code::invalid_argument);
    core_ok = false;
  }
  pm_buf buf = {nullptr, 0};
  pm_error err;
  int rc = pm_json_to_bson(text.c_str(), &buf, &err);
  CHECK((rc == PM_OK) == core_ok);
  if (rc != PM_OK) {
    CHECK(rc == PM_EINVAL && buf.data == nullptr);
    return;
  }
  char *again = pm_bson_to_json(buf.data, buf.len, PM_JSON_CANONICAL);
  CHECK((again != nullptr) == !canonical.empty());
  if (again != nullptr) CHECK(canonical == again);
  pm_free(again);
  pm_buf_free(&buf);
  // Empty output means invalid UTF-8 in the document, which libbson will not print.
  if (canonical.empty()) return;
  CHECK(reparses(canonical.c_str(), &buf));
  again = pm_bson_to_json(buf.data, buf.len, PM_JSON_CANONICAL);
  CHECK(again != nullptr && canonical == again);
  pm_free(again);
  pm_buf_free(&buf);
  CHECK(!relaxed.empty());
  CHECK(reparses(relaxed.c_str(), &buf));
  pm_buf_free(&buf);
}

// BSON bytes: accepted exactly when libbson validates them, and printable when accepted.
void bson_bytes(const uint8_t *data, size_t size) {
  bool ok = true;
  try {
    Doc d(DocView{data, size}, "document");
    CHECK(d.get()->len == size);
  } catch (const Error &e) {
    CHECK(e.code() == Code::invalid_argument);
    ok = false;
  }
  char *canonical = pm_bson_to_json(data, size, PM_JSON_CANONICAL);
  char *relaxed = pm_bson_to_json(data, size, PM_JSON_RELAXED);
  if (!ok) CHECK(canonical == nullptr && relaxed == nullptr);
  if (canonical != nullptr) {
    bson_t doc;
    bool ambiguous = bson_init_static(&doc, data, size) && has_dollar_key(&doc);
    pm_buf buf = {nullptr, 0};
    reparses(canonical, &buf, ambiguous);
    pm_buf_free(&buf);
  }
  pm_free(canonical);
  pm_free(relaxed);
}

// The payload split at newlines into NUL-terminated parts, as JSON or converted to BSON bytes
// (a part that does not convert is passed as its raw bytes).
struct Parts {
  std::vector<std::string> text;
  std::vector<std::vector<uint8_t>> bytes;
  bool bson = false;

  Parts(const std::string &payload, bool as_bson) : bson(as_bson) {
    size_t pos = 0;
    for (;;) {
      size_t nl = payload.find('\n', pos);
      text.push_back(payload.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos));
      if (nl == std::string::npos) break;
      pos = nl + 1;
    }
    for (const std::string &t : text) {
      pm_buf buf = {nullptr, 0};
      pm_error err;
      if (as_bson && pm_json_to_bson(t.c_str(), &buf, &err) == PM_OK) {
        bytes.emplace_back(buf.data, buf.data + buf.len);
        pm_buf_free(&buf);
      } else {
        bytes.emplace_back(t.begin(), t.end());
      }
    }
  }
  size_t size() const { return text.size(); }
  // Part i, or "no document" (NULL) past the end.
  const void *data(size_t i) const {
    if (i >= size()) return nullptr;
    return bson ? static_cast<const void *>(bytes[i].data()) : text[i].c_str();
  }
  size_t len(size_t i) const { return i < size() && bson ? bytes[i].size() : PM_JSON; }
};

void writes(const Parts &p) {
  pm_error err;
  pm_result *res = nullptr;
  check_rc(pm_db_insert_one(g_db, p.data(0), p.len(0), p.data(1), p.len(1), &res, &err), err);
  pm_result_free(res);
  res = nullptr;
  check_rc(pm_db_update_one(g_db, p.data(0), p.len(0), p.data(1), p.len(1), p.data(2), p.len(2), &res, &err), err);
  pm_result_free(res);
  res = nullptr;
  check_rc(pm_db_replace_one(g_db, p.data(0), p.len(0), p.data(1), p.len(1), p.data(2), p.len(2), &res, &err), err);
  pm_result_free(res);
  res = nullptr;
  check_rc(pm_db_delete_many(g_db, p.data(0), p.len(0), p.data(1), p.len(1), &res, &err), err);
  pm_result_free(res);
  pm_buf out = {nullptr, 0};
  check_rc(pm_db_find_one_and_update(g_db, p.data(0), p.len(0), p.data(1), p.len(1), p.data(2), p.len(2), &out, &err), err);
  pm_buf_free(&out);
  check_rc(pm_db_find_one_and_delete(g_db, p.data(0), p.len(0), p.data(1), p.len(1), &out, &err), err);
  pm_buf_free(&out);
}

void reads(const Parts &p) {
  pm_error err;
  pm_cursor *cur = nullptr;
  check_rc(pm_db_find(g_db, p.data(0), p.len(0), p.data(1), p.len(1), &cur, &err), err);
  pm_cursor_free(cur);
  cur = nullptr;
  check_rc(pm_db_aggregate(g_db, p.data(0), p.len(0), p.data(1), p.len(1), &cur, &err), err);
  pm_cursor_free(cur);
  int64_t n = 0;
  check_rc(pm_db_count(g_db, p.data(0), p.len(0), p.data(1), p.len(1), &n, &err), err);
  pm_buf out = {nullptr, 0};
  check_rc(pm_db_distinct(g_db, "f", p.data(0), p.len(0), p.data(1), p.len(1), &out, &err), err);
  pm_buf_free(&out);
  char *name = nullptr;
  check_rc(pm_db_create_index(g_db, p.data(0), p.len(0), p.data(1), p.len(1), &name, &err), err);
  pm_free(name);
  check_rc(pm_db_command(g_db, p.data(0), p.len(0), &out, &err), err);
  pm_buf_free(&out);
}

// Every part is one write model of a bulk write, or one document of an insert_many.
void bulk(const Parts &p) {
  std::vector<const void *> docs;
  std::vector<size_t> lens;
  for (size_t i = 0; i < p.size(); ++i) {
    docs.push_back(p.data(i));
    lens.push_back(p.len(i));
  }
  pm_error err;
  pm_result *res = nullptr;
  check_rc(pm_db_bulk_write(g_db, docs.data(), lens.data(), docs.size(), nullptr, 0, &res, &err), err);
  pm_result_free(res);
  res = nullptr;
  check_rc(pm_db_insert_many(g_db, docs.data(), lens.data(), docs.size(), nullptr, 0, &res, &err), err);
  pm_result_free(res);
}

void model_options(const Parts &p) {
  pm_model *m = nullptr;
  pm_error err;
  int rc = pm_model_new(g_wrapper, "fuzz", p.data(0), p.len(0), &m, &err);
  CHECK(rc == PM_OK || rc == PM_EINVAL);
  CHECK((m != nullptr) == (rc == PM_OK));
  if (rc != PM_OK) CHECK(err.message[0] != '\0');
  pm_model_free(m);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  pm_error err;
  CHECK(pm_wrapper_new("{\"mongoURI\": \"mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=1"
                       "&connectTimeoutMS=1\", \"defaultDB\": \"fuzz\"}",
                       &g_wrapper, &err) == PM_OK);
  CHECK(pm_model_new(g_wrapper, "docs", nullptr, 0, &g_model, &err) == PM_OK);
  CHECK(pm_model_db(g_model, nullptr, &g_db, &err) == PM_OK);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0] % 8;
  const std::string payload(reinterpret_cast<const char *>(data + 1), size - 1);
  switch (mode) {
    case 0: json_round_trip(payload); break;
    case 1: bson_bytes(data + 1, size - 1); break;
    case 2: model_options(Parts(payload, false)); break;
    case 3: model_options(Parts(payload, true)); break;
    case 4: writes(Parts(payload, false)); break;
    case 5: writes(Parts(payload, true)); break;
    case 6: reads(Parts(payload, data[0] & 8)); break;
    case 7: bulk(Parts(payload, data[0] & 8)); break;
  }
  return 0;
}
