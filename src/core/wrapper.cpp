#include "wrapper.hpp"

#include <mongoc/mongoc.h>

#include <mutex>

#include "db_name.hpp"
#include "error.hpp"

namespace pm::core {

namespace {
void init_driver_once() {
  // libmongoc must be initialised once per process; it is never cleaned up because other
  // libraries in the process may share it.
  static std::once_flag once;
  std::call_once(once, [] { mongoc_init(); });
}
}  // namespace

Wrapper::Wrapper(Options options)
    : options_(std::move(options)),
      log_(std::make_shared<Log>(options_.debug, options_.log_path)),
      router_(options_, log_) {}

std::shared_ptr<Wrapper> Wrapper::create(const char *options_json) {
  init_driver_once();
  Options options = Options::parse(options_json);
  std::shared_ptr<Wrapper> w(new Wrapper(std::move(options)));
  w->log().info("wrapper created for " + redact_uri(w->options_.mongo_uri) + " (maxPoolSize " +
                std::to_string(w->options_.max_pool_size) + ", coldStart " +
                (w->options_.cold_start ? "true" : "false") + ")");
  w->router_.connect_eager(w->options_);
  return w;
}

void Wrapper::check_db_name(std::string_view name) const {
  if (auto why = db_name_problem(name, options_.allow_system_databases))
    throw Error(Code::invalid_db_name, "invalid database name: " + *why);
}

std::string Wrapper::resolve_db_name(const char *name) const {
  if (name == nullptr || *name == '\0') {
    if (const std::string *d = default_db()) return *d;
    throw Error(Code::invalid_db_name,
                "invalid database name: none given and no default database is configured "
                "(set defaultDB or name one in mongoURI)");
  }
  check_db_name(name);
  return name;
}

}  // namespace pm::core
