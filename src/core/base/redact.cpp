#include "base/redact.hpp"

namespace pm::core {

std::string redact_uri(const std::string &uri) {
  if (uri.find("://") == std::string::npos) return "<invalid uri>";
  return redact_text(uri);
}

std::string redact_text(const std::string &text) {
  std::string out;
  size_t pos = 0;
  for (;;) {
    size_t scheme = text.find("://", pos);
    if (scheme == std::string::npos) break;
    size_t start = scheme + 3;
    size_t end = text.find_first_of("/?# \t\n\"'", start);
    if (end == std::string::npos) end = text.size();
    size_t at = text.rfind('@', end == 0 ? 0 : end - 1);
    size_t colon = text.find(':', start);
    out.append(text, pos, start - pos);
    if (at != std::string::npos && at >= start && colon != std::string::npos && colon < at) {
      out.append(text, start, colon - start);  // the user name stays, for diagnosis
      out.append(":***");
      out.append(text, at, end - at);
    } else {
      out.append(text, start, end - start);
    }
    pos = end;
  }
  out.append(text, pos, std::string::npos);
  return out;
}

}  // namespace pm::core
