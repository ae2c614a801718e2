// A Db's indexes, dropping its collection, and database commands.
#include <cstring>
#include <utility>

#include "base/db_name.hpp"
#include "ops/db_run.hpp"
#include "ops/op_checks.hpp"

namespace pm::core {

std::string Db::create_index(DocView keys, DocView opts) const {
  refuse_in_compensation("create index");
  if (keys.data == nullptr) fail(Code::invalid_argument, "create index: the keys are NULL");
  Doc k(keys, "keys");
  Doc o(opts, "options");
  if (k.empty()) fail(Code::invalid_argument, "create index: the keys are empty");
  std::string name;
  bson_iter_t it;
  if (bson_iter_init_find(&it, o.get(), "name")) {
    if (!BSON_ITER_HOLDS_UTF8(&it)) fail(Code::invalid_argument, "create index: name must be a string");
    name = bson_iter_utf8(&it, nullptr);
  } else {
    std::optional<std::string> generated = default_index_name(k.get());
    if (!generated)
      fail(Code::invalid_argument, "create index: key values must be integers (1, -1) or index "
                                   "type strings (\"text\" ...), or give options.name");
    name = std::move(*generated);
  }
  bson_t cmd = BSON_INITIALIZER, indexes, spec, command_opts = BSON_INITIALIZER;
  BSON_APPEND_UTF8(&cmd, "createIndexes", collection().c_str());
  BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &indexes);
  BSON_APPEND_DOCUMENT_BEGIN(&indexes, "0", &spec);
  BSON_APPEND_DOCUMENT(&spec, "key", k.get());
  BSON_APPEND_UTF8(&spec, "name", name.c_str());
  bson_iter_init(&it, o.get());
  while (bson_iter_next(&it)) {
    const char *key = bson_iter_key(&it);
    if (std::strcmp(key, "name") == 0) continue;
    bool command_level = is_one_of(key, {"writeConcern", "commitQuorum", "maxTimeMS", "comment"});
    bson_append_iter(command_level ? &command_opts : &spec, key, -1, &it);
  }
  bson_append_document_end(&indexes, &spec);
  bson_append_array_end(&cmd, &indexes);
  BsonGuard cmd_guard{&cmd}, opts_guard{&command_opts};
  return run(Op{"createIndex", true}, [&](Target &t) {
  bson_error_t error;
  bool ok = mongoc_collection_write_command_with_opts(t.coll, &cmd, OpOpts(&command_opts, pinned()).get(), nullptr, &error);
  if (!ok) throw Error::from_driver(error, "create index on " + where());
  return name;
  });
}

std::unique_ptr<Cursor> Db::list_indexes() const {
  return run(Op{"listIndexes", false}, [&](Target &t) {
  mongoc_cursor_t *c = mongoc_collection_find_indexes_with_opts(t.coll, OpOpts(nullptr, pinned()).get());
  return std::make_unique<Cursor>(shared_from_this(), std::move(t.lease),
                                  std::exchange(t.coll, nullptr), c, "list indexes of " + where());
  });
}

void Db::drop_index(const std::string &name) const {
  refuse_in_compensation("drop index");
  if (by_default_) refuse_default_for("drop index");
  if (name.empty()) fail(Code::invalid_argument, "drop index: the name is empty");
  return run(Op{"dropIndex", true}, [&](Target &t) {
  bson_error_t error;
  if (!mongoc_collection_drop_index_with_opts(t.coll, name.c_str(), OpOpts(nullptr, pinned()).get(), &error))
    throw Error::from_driver(error, "drop index " + name + " of " + where());
  });
}

void Db::drop_collection() const {
  refuse_in_compensation("drop collection");
  if (by_default_) refuse_default_for("drop collection");
  return run(Op{"drop", true}, [&](Target &t) {
  bson_error_t error;
  bool ok = mongoc_collection_drop_with_opts(t.coll, OpOpts(nullptr, pinned()).get(), &error);
  model_->forget(name_);  // its indexes and validator went with it
  if (!ok && error.code != 26 && std::strstr(error.message, "ns not found") == nullptr)
    throw Error::from_driver(error, "drop " + where());
  });
}

Bytes Db::command(DocView command) const {
  refuse_in_compensation("a command");
  if (command.data == nullptr) fail(Code::invalid_argument, "command: the command is NULL");
  Doc c(command, "command");
  if (c.empty()) fail(Code::invalid_argument, "command: the command is empty");
  return run(Op{"command", true, c.get()}, [&](Target &t) {
    bson_t reply;
    bson_error_t error;
    bool ok = mongoc_client_command_with_opts(t.client, name_.c_str(), c.get(), nullptr,
                                              OpOpts(nullptr, pinned()).get(), &reply, &error);
    Bytes out = to_bytes(&reply);
    bson_destroy(&reply);
    if (!ok) throw Error::from_driver(error, "command on " + name_);
    return out;
  });
}

}  // namespace pm::core
