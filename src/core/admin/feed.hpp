// The admin endpoint's event feed: every lifecycle event and log line of the wrapper, as JSON,
// the last 500 kept with a sequence number, for /api/events and the live feed (server-sent
// events), and counts of pool closes by reason for the dashboard's plots.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "observe/events.hpp"

namespace pm::core {

class EventFeed {
 public:
  explicit EventFeed(Events &events);
  ~EventFeed();
  EventFeed(const EventFeed &) = delete;
  EventFeed &operator=(const EventFeed &) = delete;

  struct Entry {
    uint64_t seq;
    std::string json;  // {seq, type, db, pool, reason, message (redacted), code, timestampMs}
  };
  // Entries after `seq`, at most `max`, oldest first.
  std::vector<Entry> since(uint64_t seq, size_t max) const;
  // Waits until an entry after `seq` exists, the feed stops or `timeout_ms` passes; false once stopped.
  bool wait_after(uint64_t seq, int64_t timeout_ms) const;
  uint64_t last_seq() const;
  // Pool closes by reason (ttl, idle, evicted, closed, forced, error), events by type.
  std::map<std::string, uint64_t> counts() const;
  void stop();  // wakes every waiter for good

 private:
  void add(const Event &e);
  static constexpr size_t kKept = 500;
  Events &events_;
  uint64_t subscription_ = 0;
  mutable std::mutex mu_;
  mutable std::condition_variable added_;
  std::deque<Entry> entries_;
  std::map<std::string, uint64_t> counts_;
  uint64_t seq_ = 0;
  bool stopped_ = false;
};


}  // namespace pm::core
