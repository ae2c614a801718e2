// The one JSON writer for what the core writes (reports, statistics): it escapes strings and
// places commas, nothing more. Values are written in order:
//   JsonWriter j;
//   j.begin_object().key("db").value(name).key("ok").value(true).end_object();
//   std::string text = j.take();
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace pm::core {

class JsonWriter {
 public:
  JsonWriter &begin_object() { return open('{'); }
  JsonWriter &end_object() { return close('}'); }
  JsonWriter &begin_array() { return open('['); }
  JsonWriter &end_array() { return close(']'); }
  JsonWriter &key(std::string_view k);

  JsonWriter &value(std::string_view s);
  JsonWriter &value(const std::string &s) { return value(std::string_view(s)); }
  JsonWriter &value(const char *s) { return value(std::string_view(s)); }
  JsonWriter &value(bool b) { return raw(b ? "true" : "false"); }
  JsonWriter &value(double d);
  template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  JsonWriter &value(T n) { return raw(std::to_string(n)); }
  JsonWriter &null() { return raw("null"); }
  // A value that is already JSON (a document's Extended JSON, say).
  JsonWriter &raw(std::string_view json);

  // The text; throws std::logic_error when an object or array was left open (a bug).
  std::string take();

 private:
  JsonWriter &open(char c);
  JsonWriter &close(char c);
  void separate();  // the comma before a value that is not its container's first

  std::string out_;
  std::vector<bool> first_;  // per open container: nothing written in it yet
  bool after_key_ = false;
};

// `s` as a JSON string literal, quotes included.
std::string json_quote(std::string_view s);

}  // namespace pm::core
