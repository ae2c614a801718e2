// pm_wrapper_export/import/copy/drop: whole databases as NDJSON.
#include <cstdio>
#include <cstring>

#include "shim.hpp"
#include "transfer/transfer.hpp"

using namespace pm;

namespace {

core::Wrapper &wrapper_of(pm_wrapper *w) {
  if (w == nullptr) capi::null_argument("wrapper");
  return *w->impl;
}

core::Progress progress_of(pm_progress_fn fn, void *data) {
  if (fn == nullptr) return nullptr;
  return [fn, data](uint64_t docs, uint64_t bytes) { fn(docs, bytes, data); };
}

core::ImportOptions import_options(const char *json) {
  return core::ImportOptions::parse(core::DocView{json, json ? core::kJsonLength : 0});
}

// Splits what `read` produces into lines.
core::LineSource line_reader(pm_read_fn read, void *data) {
  return core::ndjson_lines([read, data](char *buf, size_t cap) { return read(buf, cap, data); });
}

// Runs an import-like call: hands out its report, and maps what the report says to the
// return code (a malformed record: PM_EINVAL; refused documents: PM_EWRITE).
int with_report(char **report, pm_error *err, const std::function<core::ImportReport()> &body) {
  if (report != nullptr) *report = nullptr;
  return capi::guard(err, [&] {
    core::ImportReport r = body();
    if (report != nullptr) *report = capi::give_string(r.to_json());
    if (r.error) throw core::Error(core::Code::invalid_argument, *r.error);
    if (r.failures != 0) throw core::Error(core::Code::write, "import: some documents were refused; see the report");
    return PM_OK;
  });
}

}  // namespace

extern "C" {

int pm_wrapper_export(pm_wrapper *wrapper, const char *db, pm_write_fn write, void *write_data,
                      pm_progress_fn progress, void *progress_data, pm_error *err) {
  return capi::guard(err, [&] {
    core::Wrapper &w = wrapper_of(wrapper);
    if (write == nullptr) capi::null_argument("write");
    core::export_database(w.router(), w.resolve_db_name(db),
                          [&](const std::string &line) { return write(line.data(), line.size(), write_data) == 0; },
                          progress_of(progress, progress_data));
    return PM_OK;
  });
}

int pm_wrapper_export_file(pm_wrapper *wrapper, const char *db, const char *path, pm_progress_fn progress,
                           void *progress_data, pm_error *err) {
  return capi::guard(err, [&] {
    core::Wrapper &w = wrapper_of(wrapper);
    if (path == nullptr) capi::null_argument("path");
    std::string name = w.resolve_db_name(db);
    bool to_stdout = std::strcmp(path, "-") == 0;
    FILE *f = to_stdout ? stdout : std::fopen(path, "wb");
    if (f == nullptr)
      throw core::Error(core::Code::invalid_argument, std::string("cannot write ") + path + ": " + std::strerror(errno));
    try {
      core::export_database(w.router(), name, [&](const std::string &line) {
        return std::fwrite(line.data(), 1, line.size(), f) == line.size() && std::fputc('\n', f) != EOF;
      }, progress_of(progress, progress_data));
    } catch (...) {
      if (!to_stdout) std::fclose(f);
      throw;
    }
    bool ok = to_stdout ? std::fflush(f) == 0 : std::fclose(f) == 0;
    if (!ok) throw core::Error(core::Code::internal, std::string("cannot finish writing ") + path);
    return PM_OK;
  });
}

int pm_wrapper_import(pm_wrapper *wrapper, const char *db, pm_read_fn read, void *read_data,
                      const char *options_json, pm_progress_fn progress, void *progress_data, char **report,
                      pm_error *err) {
  return with_report(report, err, [&] {
    core::Wrapper &w = wrapper_of(wrapper);
    if (read == nullptr) capi::null_argument("read");
    return core::import_database(w.router(), w.resolve_db_name(db), line_reader(read, read_data), import_options(options_json),
                                 progress_of(progress, progress_data));
  });
}

int pm_wrapper_import_file(pm_wrapper *wrapper, const char *db, const char *path, const char *options_json,
                           pm_progress_fn progress, void *progress_data, char **report, pm_error *err) {
  return with_report(report, err, [&] {
    core::Wrapper &w = wrapper_of(wrapper);
    if (path == nullptr) capi::null_argument("path");
    std::string name = w.resolve_db_name(db);
    core::ImportOptions options = import_options(options_json);
    bool from_stdin = std::strcmp(path, "-") == 0;
    FILE *f = from_stdin ? stdin : std::fopen(path, "rb");
    if (f == nullptr)
      throw core::Error(core::Code::invalid_argument, std::string("cannot read ") + path + ": " + std::strerror(errno));
    auto read = [](char *buf, size_t cap, void *data) -> long {
      FILE *file = static_cast<FILE *>(data);
      size_t n = std::fread(buf, 1, cap, file);
      return n == 0 && std::ferror(file) ? -1 : static_cast<long>(n);
    };
    try {
      core::ImportReport r = core::import_database(w.router(), name, line_reader(read, f), options, progress_of(progress, progress_data));
      if (!from_stdin) std::fclose(f);
      return r;
    } catch (...) {
      if (!from_stdin) std::fclose(f);
      throw;
    }
  });
}

int pm_wrapper_copy_database(pm_wrapper *wrapper, const char *from, const char *to, const char *options_json,
                             pm_progress_fn progress, void *progress_data, char **report, pm_error *err) {
  return with_report(report, err, [&] {
    core::Wrapper &w = wrapper_of(wrapper);
    if (from == nullptr) capi::null_argument("from");
    std::string target = w.destructive_db_name(to, "copy onto");
    return core::copy_database(w.router(), w.resolve_db_name(from), target, import_options(options_json),
                               progress_of(progress, progress_data));
  });
}

int pm_wrapper_export_document(pm_wrapper *wrapper, const char *db, pm_buf *out, pm_error *err) {
  return capi::guard(err, [&] {
    core::Wrapper &w = wrapper_of(wrapper);
    if (out == nullptr) capi::null_argument("out");
    out->data = nullptr;
    out->len = 0;
    core::BsonPtr doc = core::export_document(w.router(), w.resolve_db_name(db));
    capi::give(core::to_bytes(doc.get()), out);
    return PM_OK;
  });
}

int pm_wrapper_import_document(pm_wrapper *wrapper, const char *db, const void *doc, size_t doc_len,
                               const char *options_json, char **report, pm_error *err) {
  return with_report(report, err, [&] {
    core::Wrapper &w = wrapper_of(wrapper);
    if (doc == nullptr) capi::null_argument("doc");
    // Framed only: each document in it is checked on its own (a counted failure when invalid).
    core::Doc parsed(capi::view(doc, doc_len), "import document", core::Doc::Accept::framing);
    return core::import_document(w.router(), w.resolve_db_name(db), parsed.get(), import_options(options_json));
  });
}

int pm_wrapper_drop_database(pm_wrapper *wrapper, const char *db, pm_error *err) {
  return capi::guard(err, [&] {
    core::Wrapper &w = wrapper_of(wrapper);
    w.drop_database(w.destructive_db_name(db, "drop database"));
    return PM_OK;
  });
}

}  // extern "C"
