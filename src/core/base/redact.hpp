// Credentials never leave polymongo: every URI and message shown to users passes through here.
#pragma once

#include <string>

namespace pm::core {

// The URI with its password replaced by "***" ("mongodb://user:***@host/...").
std::string redact_uri(const std::string &uri);

// Any text with the password of every "scheme://user:password@" in it replaced by "***".
std::string redact_text(const std::string &text);

}  // namespace pm::core
