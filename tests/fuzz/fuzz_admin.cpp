// libFuzzer target for the admin endpoint's request path (admin/api.*): method, path, query
// parameters, Authorization header and body taken from the input, handled by AdminApi on a
// wrapper that never connects (a loopback port nothing listens on). Every answer must be a
// status from 200 to 599 and, for a 4xx or 5xx, a JSON object with an error; no action may
// succeed without the token. The HTTP parsing itself is cpp-httplib's.
#include <cjson/cJSON.h>

#include <cstdint>
#include <memory>
#include <string>

#include "admin/api.hpp"
#include "admin/feed.hpp"
#include "fuzz_check.hpp"
#include "wrapper.hpp"

namespace {

const char *kToken = "fuzz-admin-token-0123456789";

pm::core::Wrapper &wrapper() {
  static std::shared_ptr<pm::core::Wrapper> w = pm::core::Wrapper::create(
      "{\"mongoURI\": \"mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=50&connectTimeoutMS=50\", "
      "\"defaultDB\": \"fuzz\", \"pauseTimeoutMS\": 0, \"routes\": [{\"match\": \"t_*\"}]}");
  return *w;
}

// The next field of the input: up to the next '\n' (or the end).
std::string field(const uint8_t *&p, const uint8_t *end) {
  const uint8_t *start = p;
  while (p < end && *p != '\n') ++p;
  std::string out(reinterpret_cast<const char *>(start), static_cast<size_t>(p - start));
  if (p < end) ++p;
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static pm::core::AdminOptions options = [] {
    pm::core::AdminOptions o;
    o.enabled = true;
    o.token = kToken;
    return o;
  }();
  static pm::core::EventFeed feed(wrapper().events());
  static pm::core::AdminApi api(wrapper(), options, feed);

  const uint8_t *p = data, *end = data + size;
  pm::core::AdminRequest r;
  r.method = field(p, end);
  r.path = field(p, end);
  std::string query = field(p, end);  // k=v&k=v
  for (size_t at = 0; at <= query.size();) {
    size_t amp = query.find('&', at);
    std::string kv = query.substr(at, amp == std::string::npos ? std::string::npos : amp - at);
    size_t eq = kv.find('=');
    if (!kv.empty()) r.params.emplace(kv.substr(0, eq), eq == std::string::npos ? "" : kv.substr(eq + 1));
    if (amp == std::string::npos) break;
    at = amp + 1;
  }
  std::string auth = field(p, end);
  r.authorization = auth == "T" ? std::string("Bearer ") + kToken : auth;
  r.body.assign(reinterpret_cast<const char *>(p), static_cast<size_t>(end - p));

  pm::core::AdminResponse out = api.handle(r);
  CHECK(out.status >= 200 && out.status <= 599);
  if (r.method == "POST" && r.authorization != std::string("Bearer ") + kToken)
    CHECK(out.status == 401 || out.status == 404 || out.status == 405);
  if (out.status >= 400) {
    cJSON *j = cJSON_Parse(out.body.c_str());
    CHECK(cJSON_IsObject(j) && cJSON_IsString(cJSON_GetObjectItem(j, "error")));
    cJSON_Delete(j);
  }
  // Whatever a request paused, the next one starts unpaused.
  for (const auto &name : wrapper().pauses().paused()) wrapper().resume(name);
  return 0;
}
