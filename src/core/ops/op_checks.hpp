// The checks and small option helpers that every operation of ops/ shares: what an update,
// a replacement and read options must look like, and which options go with one write of a bulk.
#pragma once

#include <mongoc/mongoc.h>

#include <initializer_list>
#include <optional>
#include <string>

#include "base/doc.hpp"

namespace pm::core {

bool first_key_is_operator(const bson_t *doc);
// An update pipeline arrives as an array, which in BSON bytes is a document keyed "0", "1"...
bool looks_like_pipeline(const bson_t *doc);
// Throw Error(invalid_argument), naming `what`.
void check_update(const bson_t *update, const char *what);
void check_replacement(const bson_t *replacement, const char *what);
// The types of the read options polymongo knows, checked before anything is sent.
void check_read_options(const bson_t *opts, const char *what);

bool is_one_of(const char *key, std::initializer_list<const char *> keys);
// Options that belong to one write in a bulk rather than to the whole bulk.
bool is_per_write_option(const char *key);
void split_write_options(const bson_t *opts, bson_t *per_write, bson_t *per_bulk);
bool option_bool(const bson_t *opts, const char *key, bool fallback);
// The name the server gives an index on `keys` when none is given (libmongoc's rule,
// "a_1_b_-1"): the one naming for models, create_index and pm_index_name. Empty when a key's
// value is neither an integer nor a string (libmongoc names no others); callers say why.
std::optional<std::string> default_index_name(const bson_t *keys);
// The document or array `it` holds, as a view; {nullptr, 0} for any other type.
DocView sub_document(const bson_iter_t *it);

}  // namespace pm::core
