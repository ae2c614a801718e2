// MongoDB's BSON corpus (tests/bulk/bson-corpus, see its README) through every path that
// carries documents: Extended JSON both ways, the writes (every decodeErrors case refused before
// anything is sent), the imports (an invalid document is a counted failure of its own), and
// byte-exact round trips of every valid case the servers store through copy_database, the
// in-memory export/import and the NDJSON export/import, with libmongoc as the independent
// client that writes the originals and reads the copies. The cases a server refuses (or stores
// changed) are listed in tests/bulk/bson_corpus_refused.txt, and that list must be exact.
#include "support.hpp"

#include <cjson/cJSON.h>
#include <mongoc/mongoc.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fnmatch.h>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

using namespace pmtest;

namespace {

// NDJSON text handed to pm_wrapper_import in pieces of whatever size it asks for.
struct TextSource {
  std::string text;
  size_t at = 0;
  static long read(char *buf, size_t cap, void *data) {
    auto *s = static_cast<TextSource *>(data);
    size_t n = std::min(cap, s->text.size() - s->at);
    std::memcpy(buf, s->text.data() + s->at, n);
    s->at += n;
    return static_cast<long>(n);
  }
};

struct Case {
  std::string name;  // "file: description" (a repeated description gets " #2")
  std::vector<uint8_t> bson;
  std::string extjson;  // valid cases: canonical_extjson
  bool lossy = false;
};

struct Corpus {
  std::vector<Case> valid, invalid;  // invalid: decodeErrors
};

std::vector<uint8_t> unhex(const std::string &s) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < s.size(); i += 2) out.push_back(static_cast<uint8_t>(std::stoul(s.substr(i, 2), nullptr, 16)));
  return out;
}

std::string hex(const uint8_t *p, size_t n) {
  static const char *digits = "0123456789ABCDEF";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}
std::string hex(const std::vector<uint8_t> &v) { return hex(v.data(), v.size()); }

const Corpus &corpus() {
  static const Corpus c = [] {
    Corpus out;
    std::vector<std::filesystem::path> files;
    for (auto &e : std::filesystem::directory_iterator(PM_BSON_CORPUS_DIR))
      if (e.path().extension() == ".json") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    std::set<std::string> seen;
    auto unique = [&](std::string name) {
      for (int n = 2; !seen.insert(name).second; ++n) name = name.substr(0, name.rfind(" #")) + " #" + std::to_string(n);
      return name;
    };
    for (auto &path : files) {
      std::ifstream in(path);
      std::stringstream text;
      text << in.rdbuf();
      cJSON *root = cJSON_Parse(text.str().c_str());
      if (root == nullptr) throw std::runtime_error("unreadable corpus file " + path.string());
      std::string file = path.filename().string();
      cJSON *item;
      cJSON_ArrayForEach(item, cJSON_GetObjectItem(root, "valid")) {
        Case k;
        k.name = unique(file + ": " + cJSON_GetObjectItem(item, "description")->valuestring);
        k.bson = unhex(cJSON_GetObjectItem(item, "canonical_bson")->valuestring);
        k.extjson = cJSON_GetObjectItem(item, "canonical_extjson")->valuestring;
        k.lossy = cJSON_IsTrue(cJSON_GetObjectItem(item, "lossy"));
        out.valid.push_back(std::move(k));
      }
      cJSON_ArrayForEach(item, cJSON_GetObjectItem(root, "decodeErrors")) {
        Case k;
        k.name = unique(file + ": " + cJSON_GetObjectItem(item, "description")->valuestring);
        k.bson = unhex(cJSON_GetObjectItem(item, "bson")->valuestring);
        out.invalid.push_back(std::move(k));
      }
      cJSON_Delete(root);
    }
    return out;
  }();
  return c;
}

std::string to_json_text(const bson_t *b) {
  char *s = bson_as_canonical_extended_json(b, nullptr);
  std::string out = s ? s : "";
  bson_free(s);
  return out;
}

// The case's document with an _id: {"_id": i} followed by its fields, unless it has one.
std::vector<uint8_t> with_id(int32_t id, const std::vector<uint8_t> &doc) {
  bson_t b = BSON_INITIALIZER, src;
  bson_init_static(&src, doc.data(), doc.size());
  if (bson_has_field(&src, "_id")) return doc;
  BSON_APPEND_INT32(&b, "_id", id);
  bson_concat(&b, &src);
  std::vector<uint8_t> out(bson_get_data(&b), bson_get_data(&b) + b.len);
  bson_destroy(&b);
  return out;
}

// A document's _id as canonical Extended JSON.
std::string id_key(const bson_t *doc) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, doc, "_id")) return "";
  bson_t one = BSON_INITIALIZER;
  bson_append_iter(&one, "_id", 3, &it);
  std::string out = to_json_text(&one);
  bson_destroy(&one);
  return out;
}
std::string id_key(const std::vector<uint8_t> &doc) {
  bson_t b;
  bson_init_static(&b, doc.data(), doc.size());
  return id_key(&b);
}

// The libmongoc client that writes the originals and reads the copies.
struct Raw {
  mongoc_client_t *client;
  explicit Raw(const std::string &uri) : client(mongoc_client_new(uri.c_str())) {}
  ~Raw() { mongoc_client_destroy(client); }
  // "" when stored, else the server's reason.
  std::string insert(const std::string &db, const std::string &coll, const std::vector<uint8_t> &doc) {
    mongoc_collection_t *c = mongoc_client_get_collection(client, db.c_str(), coll.c_str());
    bson_t b, opts = BSON_INITIALIZER;
    bson_init_static(&b, doc.data(), doc.size());
    BSON_APPEND_BOOL(&opts, "validate", false);
    bson_error_t error;
    bool ok = mongoc_collection_insert_one(c, &b, &opts, nullptr, &error);
    bson_destroy(&opts);
    mongoc_collection_destroy(c);
    return ok ? "" : error.message;
  }
  // Every document of every collection, by collection and _id.
  std::map<std::string, std::vector<uint8_t>> read(const std::string &db) {
    std::map<std::string, std::vector<uint8_t>> out;
    mongoc_database_t *d = mongoc_client_get_database(client, db.c_str());
    char **names = mongoc_database_get_collection_names_with_opts(d, nullptr, nullptr);
    for (char **n = names; n && *n; ++n) read_collection(db, *n, out);
    bson_strfreev(names);
    mongoc_database_destroy(d);
    return out;
  }
  void read_collection(const std::string &db, const std::string &name, std::map<std::string, std::vector<uint8_t>> &out) {
    mongoc_collection_t *c = mongoc_client_get_collection(client, db.c_str(), name.c_str());
    bson_t filter = BSON_INITIALIZER;
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, &filter, nullptr, nullptr);
    const bson_t *d;
    while (mongoc_cursor_next(cur, &d)) {
      out[name + " " + id_key(d)] = std::vector<uint8_t>(bson_get_data(d), bson_get_data(d) + d->len);
    }
    bson_error_t error;
    EXPECT_FALSE(mongoc_cursor_error(cur, &error)) << error.message;
    mongoc_cursor_destroy(cur);
    mongoc_collection_destroy(c);
    bson_destroy(&filter);
  }
  void drop(const std::string &db) {
    mongoc_database_t *d = mongoc_client_get_database(client, db.c_str());
    mongoc_database_drop(d, nullptr);
    mongoc_database_destroy(d);
  }
};

// tests/bulk/bson_corpus_refused.txt: "server | case | reason" lines ('#' starts a comment); a
// case may be a pattern (fnmatch), for a group the server refuses as a whole.
std::map<std::string, std::string> refused_list(const std::string &server) {
  std::map<std::string, std::string> out;
  std::ifstream in(PM_BSON_CORPUS_REFUSED);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t a = line.find(" | "), b = line.rfind(" | ");
    if (a == std::string::npos || a == b) continue;
    if (line.substr(0, a) == server) out[line.substr(a + 3, b - a - 3)] = line.substr(b + 3);
  }
  return out;
}

int64_t report_number(const std::string &report, const std::string &key) {
  size_t at = report.find("\"" + key + "\":");
  return at == std::string::npos ? -1 : std::stoll(report.substr(at + key.size() + 3));
}

// ---- Extended JSON, no server ---------------------------------------------------------------

TEST(BsonCorpus, CanonicalExtendedJsonReadsAsCanonicalBson) {
  int exact = 0, lossy = 0;
  for (const Case &k : corpus().valid) {
    if (k.lossy) {  // a NaN payload or a non-canonical Decimal128: the text has one spelling
      ++lossy;
      continue;
    }
    pm_buf out{nullptr, 0};
    pm_error err;
    ASSERT_EQ(pm_json_to_bson(k.extjson.c_str(), &out, &err), PM_OK) << k.name << ": " << err.message;
    std::string got = hex(static_cast<const uint8_t *>(out.data), out.len);
    pm_buf_free(&out);
    EXPECT_EQ(got, hex(k.bson)) << k.name << "\n  " << k.extjson;
    exact += got == hex(k.bson);
  }
  std::printf("pm_json_to_bson(canonical_extjson) == canonical_bson: %d cases (%d lossy ones skipped)\n", exact, lossy);
  EXPECT_EQ(exact + lossy, static_cast<int>(corpus().valid.size()));
}

TEST(BsonCorpus, BsonToJsonAndBackIsExact) {
  int exact = 0;
  for (const Case &k : corpus().valid) {
    for (pm_json_mode mode : {PM_JSON_CANONICAL, PM_JSON_RELAXED}) {
      char *json = pm_bson_to_json(k.bson.data(), k.bson.size(), mode);
      ASSERT_NE(json, nullptr) << k.name;
      pm_buf out{nullptr, 0};
      pm_error err;
      EXPECT_EQ(pm_json_to_bson(json, &out, &err), PM_OK) << k.name << ": " << json << ": " << err.message;
      std::string got = hex(static_cast<const uint8_t *>(out.data), out.len);
      pm_buf_free(&out);
      if (mode == PM_JSON_CANONICAL && !k.lossy) {
        EXPECT_EQ(got, hex(k.bson)) << k.name << "\n  " << json;
        exact += got == hex(k.bson);
      }
      pm_free(json);
    }
  }
  std::printf("pm_bson_to_json (canonical) and back byte for byte: %d cases\n", exact);
}

TEST(BsonCorpus, CodeKeepsItsNulBytes) {
  // libbson 1.23 cuts $code (and $dbPointer's $ref) at the first \u0000.
  for (const char *json : {"{\"a\": {\"$code\": \"ab\\u0000bab\\u0000babab\"}}",
                           "{\"a\": {\"$code\": \"x\\u0000y\", \"$scope\": {\"s\": {\"$code\": \"\\u0000\"}}}}",
                           "{\"a\": {\"$dbPointer\": {\"$ref\": \"c\\u0000d\", \"$id\": {\"$oid\": \"56e1fc72e0c917e9c4714161\"}}}}",
                           "{\"a\": \"\\\\u0000 is text\", \"b\": \"s\\u0000t\"}"}) {
    pm_buf out{nullptr, 0};
    pm_error err;
    ASSERT_EQ(pm_json_to_bson(json, &out, &err), PM_OK) << json << ": " << err.message;
    char *back = pm_bson_to_json(out.data, out.len, PM_JSON_CANONICAL);
    ASSERT_NE(back, nullptr);
    pm_buf again{nullptr, 0};
    ASSERT_EQ(pm_json_to_bson(back, &again, &err), PM_OK);
    EXPECT_EQ(hex(static_cast<const uint8_t *>(out.data), out.len), hex(static_cast<const uint8_t *>(again.data), again.len));
    bson_t b;
    bson_init_static(&b, static_cast<const uint8_t *>(out.data), out.len);
    bson_iter_t it;
    ASSERT_TRUE(bson_iter_init_find(&it, &b, "a"));
    uint32_t len = 0;
    if (BSON_ITER_HOLDS_CODE(&it)) {
      const char *code = bson_iter_code(&it, &len);
      EXPECT_EQ(std::string(code, len), std::string("ab\0bab\0babab", 12)) << back;
    } else if (BSON_ITER_HOLDS_CODEWSCOPE(&it)) {
      uint32_t scope_len;
      const uint8_t *scope;
      const char *code = bson_iter_codewscope(&it, &len, &scope_len, &scope);
      EXPECT_EQ(std::string(code, len), std::string("x\0y", 3)) << back;
      EXPECT_NE(std::string(back).find("\"$code\" : \"\\u0000\""), std::string::npos) << back;
    } else if (BSON_ITER_HOLDS_DBPOINTER(&it)) {
      const char *coll;
      const bson_oid_t *oid;
      bson_iter_dbpointer(&it, &len, &coll, &oid);
      EXPECT_EQ(std::string(coll, len), std::string("c\0d", 3)) << back;
    } else {
      EXPECT_EQ(std::string(bson_iter_utf8(&it, &len)), "\\u0000 is text");
    }
    pm_free(back);
    pm_buf_free(&out);
    pm_buf_free(&again);
  }
  // BSON cannot hold a NUL in a key or a regular expression: refused, not cut short.
  for (const char *json : {"{\"a\\u0000b\": 1}", "{\"a\": {\"$regularExpression\": {\"pattern\": \"a\\u0000\", \"options\": \"\"}}}"}) {
    pm_buf out{nullptr, 0};
    pm_error err;
    EXPECT_EQ(pm_json_to_bson(json, &out, &err), PM_EINVAL) << json;
    pm_buf_free(&out);
  }
}

TEST(BsonCorpus, DecodeErrorsHaveNoJson) {
  for (const Case &k : corpus().invalid) {
    char *json = pm_bson_to_json(k.bson.data(), k.bson.size(), PM_JSON_CANONICAL);
    EXPECT_EQ(json, nullptr) << k.name << ": " << (json ? json : "");
    pm_free(json);
  }
}

// ---- writes and imports on the server --------------------------------------------------------

struct CorpusOnServer : ::testing::Test {
  Wrapper w;
  Model m;
  std::string db = unique_db("corpus");
  void SetUp() override {
    w.w = new_wrapper();
    m.m = new_model(w.w, "corpus");
  }
  void TearDown() override {
    pm_error err;
    pm_wrapper_drop_database(w.w, db.c_str(), &err);
  }
};

TEST_F(CorpusOnServer, EveryWriteRefusesEveryDecodeError) {
  Db d;
  d.d = bind_db(m.m, db);
  const char *ok_doc = "{\"ok\": 1}";
  int refused = 0;
  for (const Case &k : corpus().invalid) {
    pm_error err;
    const void *docs[] = {ok_doc, k.bson.data()};
    size_t lens[] = {PM_JSON, k.bson.size()};
    EXPECT_EQ(pm_db_insert_one(d.d, k.bson.data(), k.bson.size(), nullptr, 0, nullptr, &err), PM_EINVAL) << k.name;
    EXPECT_NE(std::string(err.message).find("not a valid BSON document"), std::string::npos) << err.message;
    EXPECT_EQ(pm_db_insert_many(d.d, docs, lens, 2, "{\"ordered\": false}", PM_JSON, nullptr, &err), PM_EINVAL) << k.name;
    EXPECT_EQ(pm_db_replace_one(d.d, "{}", PM_JSON, k.bson.data(), k.bson.size(), nullptr, 0, nullptr, &err), PM_EINVAL) << k.name;
    EXPECT_EQ(pm_db_update_one(d.d, k.bson.data(), k.bson.size(), "{\"$set\": {\"x\": 1}}", PM_JSON, nullptr, 0, nullptr, &err),
              PM_EINVAL) << k.name;
    EXPECT_EQ(pm_db_delete_many(d.d, k.bson.data(), k.bson.size(), nullptr, 0, nullptr, &err), PM_EINVAL) << k.name;
    refused += !::testing::Test::HasFailure();
  }
  // Invalid UTF-8 written as JSON text, and a lone surrogate escape.
  pm_error err;
  EXPECT_EQ(pm_db_insert_one(d.d, "{\"a\": \"\xE9\"}", PM_JSON, nullptr, 0, nullptr, &err), PM_EINVAL);
  EXPECT_EQ(pm_db_insert_one(d.d, "{\"a\": \"\\ud800\"}", PM_JSON, nullptr, 0, nullptr, &err), PM_EINVAL);
  EXPECT_EQ(Checker().count(db, "corpus"), 0) << "an invalid document was stored";
  std::printf("every write refused all %zu decodeErrors cases\n", corpus().invalid.size());
}

TEST_F(CorpusOnServer, AJsonArrayIsNotADocument) {
  Db d;
  d.d = bind_db(m.m, db);
  pm_error err;
  EXPECT_EQ(pm_db_insert_one(d.d, "[1,2]", PM_JSON, nullptr, 0, nullptr, &err), PM_EINVAL);
  EXPECT_NE(std::string(err.message).find("array"), std::string::npos) << err.message;
  EXPECT_EQ(pm_db_insert_one(d.d, " [{\"a\": 1}]", PM_JSON, nullptr, 0, nullptr, &err), PM_EINVAL);
  const void *docs[] = {"{\"a\": 1}", "[1]"};
  size_t lens[] = {PM_JSON, PM_JSON};
  EXPECT_EQ(pm_db_insert_many(d.d, docs, lens, 2, nullptr, 0, nullptr, &err), PM_EINVAL);
  EXPECT_EQ(pm_db_replace_one(d.d, "{}", PM_JSON, "[1]", PM_JSON, nullptr, 0, nullptr, &err), PM_EINVAL);
  EXPECT_EQ(pm_db_delete_many(d.d, "[1]", PM_JSON, nullptr, 0, nullptr, &err), PM_EINVAL);
  pm_buf out{nullptr, 0};
  EXPECT_EQ(pm_json_to_bson("[1,2]", &out, &err), PM_EINVAL);
  EXPECT_EQ(Checker().count(db, "corpus"), 0);
  // Where a pipeline is expected, an array still is one.
  insert_json(d.d, "{\"_id\": 1, \"a\": 1}");
  // (sent: FerretDB refuses pipeline updates itself, with a server error)
  EXPECT_NE(pm_db_update_one(d.d, "{\"_id\": 1}", PM_JSON, "[{\"$set\": {\"b\": 2}}]", PM_JSON, nullptr, 0, nullptr, &err),
            PM_EINVAL)
      << err.message;
}

// An import document (export_document's form) with `docs` in collection "c" (each a BSON
// document, or bytes given as binary when `raw`).
std::vector<uint8_t> import_doc(const std::vector<std::pair<std::vector<uint8_t>, bool>> &docs) {
  bson_t out = BSON_INITIALIZER, colls, c, opts, idx, arr;
  BSON_APPEND_DOCUMENT_BEGIN(&out, "collections", &colls);
  BSON_APPEND_DOCUMENT_BEGIN(&colls, "c", &c);
  BSON_APPEND_DOCUMENT_BEGIN(&c, "options", &opts);
  bson_append_document_end(&c, &opts);
  BSON_APPEND_ARRAY_BEGIN(&c, "indexes", &idx);
  bson_append_array_end(&c, &idx);
  BSON_APPEND_ARRAY_BEGIN(&c, "documents", &arr);
  for (size_t i = 0; i < docs.size(); ++i) {
    std::string key = std::to_string(i);
    const auto &bytes = docs[i].first;
    if (docs[i].second) {
      BSON_APPEND_BINARY(&arr, key.c_str(), BSON_SUBTYPE_BINARY, bytes.data(), static_cast<uint32_t>(bytes.size()));
    } else {
      // Appended as it is (an embedded document whose framing holds, whatever its content).
      bson_t one;
      bson_init_static(&one, bytes.data(), bytes.size());
      BSON_APPEND_DOCUMENT(&arr, key.c_str(), &one);
    }
  }
  bson_append_array_end(&c, &arr);
  bson_append_document_end(&colls, &c);
  bson_append_document_end(&out, &colls);
  std::vector<uint8_t> v(bson_get_data(&out), bson_get_data(&out) + out.len);
  bson_destroy(&out);
  return v;
}

std::vector<uint8_t> json_bytes(const char *json) {
  pm_buf out{nullptr, 0};
  pm_error err;
  EXPECT_EQ(pm_json_to_bson(json, &out, &err), PM_OK) << err.message;
  std::vector<uint8_t> v(static_cast<uint8_t *>(out.data), static_cast<uint8_t *>(out.data) + out.len);
  pm_buf_free(&out);
  return v;
}

TEST_F(CorpusOnServer, ImportCountsEachInvalidDocumentAndWritesTheRest) {
  // The issue's case: one document whose string is not UTF-8, embedded as a document.
  std::vector<uint8_t> bad_utf8 = unhex("0E00000002610002000000E90000");
  std::vector<uint8_t> doc = import_doc({{bad_utf8, false}});
  char *report = nullptr;
  pm_error err;
  EXPECT_EQ(pm_wrapper_import_document(w.w, db.c_str(), doc.data(), doc.size(), nullptr, &report, &err), PM_EWRITE)
      << err.message;
  ASSERT_NE(report, nullptr);
  EXPECT_EQ(report_number(report, "documents"), 0) << report;
  EXPECT_EQ(report_number(report, "failures"), 1) << report;
  EXPECT_NE(std::string(report).find("document 0: not valid BSON"), std::string::npos) << report;
  pm_free(report);

  // Every decodeErrors case as the middle document of three (as bytes, the form the export
  // uses for them): the two others are written, the bad one is counted with its place.
  int counted = 0;
  for (const Case &k : corpus().invalid) {
    std::string target = db + "_" + std::to_string(counted);
    doc = import_doc({{json_bytes("{\"_id\": 1}"), false}, {k.bson, true}, {json_bytes("{\"_id\": 2}"), false}});
    report = nullptr;
    EXPECT_EQ(pm_wrapper_import_document(w.w, target.c_str(), doc.data(), doc.size(), "{\"batchSize\": 10}", &report, &err),
              PM_EWRITE) << k.name;
    ASSERT_NE(report, nullptr) << k.name << ": " << err.message;
    EXPECT_EQ(report_number(report, "documents"), 2) << k.name << ": " << report;
    EXPECT_EQ(report_number(report, "failures"), 1) << k.name << ": " << report;
    EXPECT_NE(std::string(report).find("document 1: not valid BSON"), std::string::npos) << report;
    EXPECT_EQ(Checker().count(target, "c"), 2) << k.name;
    pm_free(report);
    pm_wrapper_drop_database(w.w, target.c_str(), &err);
    counted += !::testing::Test::HasFailure();
  }
  EXPECT_EQ(counted, static_cast<int>(corpus().invalid.size()));

  // stopOnError stops at the bad document, after writing what came before it.
  std::string stopped = db + "_stop";
  doc = import_doc({{json_bytes("{\"_id\": 1}"), false}, {bad_utf8, false}, {json_bytes("{\"_id\": 2}"), false}});
  report = nullptr;
  EXPECT_EQ(pm_wrapper_import_document(w.w, stopped.c_str(), doc.data(), doc.size(), "{\"stopOnError\": true}", &report, &err),
            PM_EWRITE);
  ASSERT_NE(report, nullptr);
  EXPECT_EQ(report_number(report, "documents"), 1) << report;
  EXPECT_NE(std::string(report).find("\"stopped\":true"), std::string::npos) << report;
  EXPECT_EQ(Checker().count(stopped, "c"), 1);
  pm_free(report);
  pm_wrapper_drop_database(w.w, stopped.c_str(), &err);

  // NDJSON: a document record carrying invalid bytes is a failure of its line.
  bson_t rec = BSON_INITIALIZER;
  BSON_APPEND_UTF8(&rec, "type", "document");
  BSON_APPEND_UTF8(&rec, "collection", "c");
  BSON_APPEND_BINARY(&rec, "bson", BSON_SUBTYPE_BINARY, bad_utf8.data(), static_cast<uint32_t>(bad_utf8.size()));
  std::string text = "{\"type\":\"meta\",\"format\":\"polymongo-export\",\"version\":1}\n"
                     "{\"type\":\"collection\",\"name\":\"c\",\"options\":{}}\n"
                     "{\"type\":\"document\",\"collection\":\"c\",\"doc\":{\"_id\":1}}\n" +
                     to_json_text(&rec) + "\n{\"type\":\"document\",\"collection\":\"c\",\"doc\":{\"_id\":2}}\n";
  bson_destroy(&rec);
  std::string lines_db = db + "_lines";
  TextSource src{text};
  report = nullptr;
  EXPECT_EQ(pm_wrapper_import(w.w, lines_db.c_str(), TextSource::read, &src, nullptr, nullptr, nullptr, &report, &err), PM_EWRITE);
  ASSERT_NE(report, nullptr) << err.message;
  EXPECT_EQ(report_number(report, "documents"), 2) << report;
  EXPECT_NE(std::string(report).find("line 4: not valid BSON"), std::string::npos) << report;
  pm_free(report);
  pm_wrapper_drop_database(w.w, lines_db.c_str(), &err);
}

TEST_F(CorpusOnServer, AnEmptyKeyInASubDocumentIsCopied) {
  Db d;
  d.d = bind_db(m.m, db);
  insert_json(d.d, "{\"_id\": 1}");
  insert_json(d.d, "{\"_id\": 2, \"x\": {\"\": \"b\"}}");
  insert_json(d.d, "{\"_id\": 3}");
  std::string target = db + "_copy";
  char *report = nullptr;
  pm_error err;
  ASSERT_EQ(pm_wrapper_copy_database(w.w, db.c_str(), target.c_str(), nullptr, nullptr, nullptr, &report, &err), PM_OK)
      << err.message << " " << (report ? report : "");
  EXPECT_EQ(report_number(report, "documents"), 3) << report;
  EXPECT_EQ(Checker().count(target, "corpus", "{\"_id\": 2}"), 1);
  pm_free(report);
  pm_wrapper_drop_database(w.w, target.c_str(), &err);
}

// ---- byte-exact round trips of every valid case a server stores -----------------------------

int write_line(const char *line, size_t len, void *data) {
  auto *out = static_cast<std::string *>(data);
  out->append(line, len);
  *out += '\n';
  return 0;
}

void round_trip_on(const std::string &server, const std::string &uri) {
  Raw raw(uri);
  Wrapper w;
  w.w = new_wrapper_on(uri);
  std::string src = unique_db("corpus_src");
  const auto &valid = corpus().valid;
  std::map<std::string, std::string> refused;
  std::map<std::string, std::vector<uint8_t>> sent;
  std::map<std::string, size_t> case_of;  // by _id
  std::map<std::string, std::string> listed = refused_list(server);
  auto listed_as = [&](const std::string &name) -> std::string {
    for (auto &[pattern, why] : listed)
      if (fnmatch(pattern.c_str(), name.c_str(), 0) == 0) return pattern;
    return "";
  };
  // A group listed by pattern is tried with its first case: when the server refuses that one,
  // the others are not sent (FerretDB drops the connection on each Decimal128, 0.5 s apiece).
  std::map<std::string, std::string> group_refused;  // pattern -> the first case's refusal
  for (size_t i = 0; i < valid.size(); ++i) {
    std::string pattern = listed_as(valid[i].name);
    bool group = pattern.find('*') != std::string::npos;
    if (group && group_refused.count(pattern)) {
      refused[valid[i].name] = group_refused[pattern];
      continue;
    }
    std::vector<uint8_t> doc = with_id(static_cast<int32_t>(i), valid[i].bson);
    // A case with an _id of its own goes to a collection of its own (two cases share one).
    std::string coll = doc == valid[i].bson ? "corpus_" + std::to_string(i) : "corpus";
    std::string why = raw.insert(src, coll, doc);
    if (why.empty()) {
      sent[coll + " " + id_key(doc)] = doc;
      case_of[coll + " " + id_key(doc)] = i;
    } else {
      refused[valid[i].name] = why;
      if (group) group_refused[pattern] = "like the first case of its group: " + why;
    }
  }
  std::map<std::string, std::vector<uint8_t>> source = raw.read(src), stored;
  for (auto &[id, doc] : sent) {
    if (source.count(id) && source[id] == doc) stored[id] = doc;
    else refused[valid[case_of[id]].name] = source.count(id) ? "stored changed: " + hex(source[id]) : std::string("not stored");
  }
  // The list must be exact both ways.
  std::set<std::string> matched;
  for (auto &[name, why] : refused) {
    std::string pattern = listed_as(name);
    EXPECT_FALSE(pattern.empty()) << server << " | " << name << " | " << why << "   (refused, not in the list)";
    matched.insert(pattern);
  }
  for (auto &[name, why] : listed)
    EXPECT_TRUE(matched.count(name)) << server << " | " << name << " | listed as refused (" << why << "), but stored";
  for (auto &[id, doc] : stored)
    EXPECT_TRUE(listed_as(valid[case_of[id]].name).empty()) << server << " | " << valid[case_of[id]].name << " | listed, but stored";

  auto compare = [&](const std::string &path, const std::string &db) {
    std::map<std::string, std::vector<uint8_t>> copy = raw.read(db);
    int exact = 0;
    for (auto &[id, doc] : stored) {
      bool same = copy.count(id) && copy[id] == doc;
      EXPECT_TRUE(same) << server << " " << path << ": " << valid[case_of[id]].name << "\n  original " << hex(doc)
                        << "\n  copy     " << (copy.count(id) ? hex(copy[id]) : "missing");
      exact += same;
    }
    EXPECT_EQ(copy.size(), source.size()) << server << " " << path;
    std::printf("%s: %s: %d of %zu stored cases byte for byte\n", server.c_str(), path.c_str(), exact, stored.size());
    raw.drop(db);
  };
  pm_error err;
  char *report = nullptr;
  std::string dst = src + "_copy";
  EXPECT_EQ(pm_wrapper_copy_database(w.w, src.c_str(), dst.c_str(), nullptr, nullptr, nullptr, &report, &err), PM_OK)
      << err.message << " " << (report ? report : "");
  pm_free(report);
  compare("copy_database", dst);

  pm_buf exported{nullptr, 0};
  ASSERT_EQ(pm_wrapper_export_document(w.w, src.c_str(), &exported, &err), PM_OK) << err.message;
  dst = src + "_mem";
  report = nullptr;
  EXPECT_EQ(pm_wrapper_import_document(w.w, dst.c_str(), exported.data, exported.len, nullptr, &report, &err), PM_OK)
      << err.message << " " << (report ? report : "");
  pm_free(report);
  pm_buf_free(&exported);
  compare("export_document + import_document", dst);

  std::string ndjson;
  ASSERT_EQ(pm_wrapper_export(w.w, src.c_str(), write_line, &ndjson, nullptr, nullptr, &err), PM_OK) << err.message;
  TextSource in{ndjson};
  dst = src + "_ndjson";
  report = nullptr;
  EXPECT_EQ(pm_wrapper_import(w.w, dst.c_str(), TextSource::read, &in, nullptr, nullptr, nullptr, &report, &err), PM_OK)
      << err.message << " " << (report ? report : "");
  pm_free(report);
  compare("export + import (NDJSON)", dst);

  // The stored documents through Extended JSON and back.
  int exact = 0, lossy = 0;
  for (auto &[id, doc] : stored) {
    if (valid[case_of[id]].lossy) {
      ++lossy;
      continue;
    }
    char *json = pm_bson_to_json(doc.data(), doc.size(), PM_JSON_CANONICAL);
    pm_buf back{nullptr, 0};
    EXPECT_EQ(pm_json_to_bson(json ? json : "", &back, &err), PM_OK);
    bool same = back.len == doc.size() && std::memcmp(back.data, doc.data(), doc.size()) == 0;
    EXPECT_TRUE(same) << valid[case_of[id]].name << ": " << (json ? json : "");
    exact += same;
    pm_free(json);
    pm_buf_free(&back);
  }
  std::printf("%s: pm_bson_to_json + pm_json_to_bson: %d of %zu stored cases byte for byte (%d lossy ones skipped)\n",
              server.c_str(), exact, stored.size(), lossy);
  std::printf("%s: %zu of %zu valid cases stored, %zu refused or changed by the server\n", server.c_str(), stored.size(),
              valid.size(), refused.size());
  raw.drop(src);
}

TEST(BsonCorpusRoundTrip, SecantusDB) {
  std::string uri = txn_uri();
  if (uri.empty()) GTEST_SKIP() << "no SecantusDB (the transaction server did not start)";
  round_trip_on("secantusdb", uri);
}

TEST(BsonCorpusRoundTrip, FerretDB) { round_trip_on("ferretdb", server_uri()); }

}  // namespace
