#include "admin/feed.hpp"

#include <chrono>

#include "base/json_writer.hpp"
#include "base/redact.hpp"

namespace pm::core {

EventFeed::EventFeed(Events &events) : events_(events) {
  // Every type but the per-operation check-out events.
  subscription_ = events_.subscribe(kLifecycleEventTypes, {}, [this](const Event &e) { add(e); });
}

EventFeed::~EventFeed() {
  stop();
  events_.unsubscribe(subscription_);
}

void EventFeed::add(const Event &e) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t seq = ++seq_;
  JsonWriter j;
  j.begin_object()
      .key("seq").value(seq)
      .key("type").value(event_type_name(e.type))
      .key("db").value(e.db)
      .key("pool").value(e.pool)
      .key("reason").value(e.reason)
      .key("message").value(redact_text(e.message))
      .key("code").value(e.code)
      .key("timestampMs").value(e.timestamp_ms)
      .key("durationUs").value(e.duration_us)
      .key("connectionId").value(e.connection)
      .end_object();
  entries_.push_back(Entry{seq, j.take()});
  if (entries_.size() > kKept) entries_.pop_front();
  ++counts_[event_type_name(e.type)];
  if (e.type == EventType::pool_closed) ++counts_["close." + e.reason];
  added_.notify_all();
}

std::vector<EventFeed::Entry> EventFeed::since(uint64_t seq, size_t max) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Entry> out;
  for (const Entry &e : entries_) {
    if (e.seq <= seq) continue;
    out.push_back(e);
    if (out.size() >= max) break;
  }
  return out;
}

bool EventFeed::wait_after(uint64_t seq, int64_t timeout_ms) const {
  std::unique_lock<std::mutex> lock(mu_);
  added_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return stopped_ || seq_ > seq; });
  return !stopped_;
}

uint64_t EventFeed::last_seq() const {
  std::lock_guard<std::mutex> lock(mu_);
  return seq_;
}

std::map<std::string, uint64_t> EventFeed::counts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counts_;
}

void EventFeed::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
  }
  added_.notify_all();
}

}  // namespace pm::core
