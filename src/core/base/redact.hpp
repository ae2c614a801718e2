// Credentials never leave polymongo: every URI and message shown to users passes through here.
#pragma once

#include <string>

#include <bson/bson.h>

namespace pm::core {

// The URI with its password replaced by "***" ("mongodb://user:***@host/...").
std::string redact_uri(const std::string &uri);

// Any text with the password of every "scheme://user:password@" in it replaced by "***".
std::string redact_text(const std::string &text);

}  // namespace pm::core

namespace pm::core {

// The shape of a filter or command document as JSON, with every value replaced: keys and
// operators stay, scalars become "?" and arrays of scalars ["?"] (a slow-operation log entry
// shows what was asked without what it was asked about). Documents inside arrays ($or, $and)
// keep their shape. NULL or an empty document: "{}".
std::string redact_shape(const bson_t *doc);

}  // namespace pm::core
