// Change streams: a tracked, pull-based stream on one pooled client (which pins its pool), and
// shared streams that fan one server-side stream out to any number of subscribers.
#pragma once

#include <mongoc/mongoc.h>

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/doc.hpp"
#include "pool/pool.hpp"
#include "pool/router.hpp"

namespace pm::core {

// What a consumer pulls events from.
class EventSource {
 public:
  virtual ~EventSource() = default;
  // The next event (valid until the next call), or nullptr when none came within timeout_ms.
  // Throws Error(closed) once closed.
  virtual const bson_t *next(int64_t timeout_ms) = 0;
  virtual BsonPtr resume_token() = 0;
  virtual void close() = 0;
  virtual const std::string &db() const = 0;  // "" for a cluster stream
};

enum class WatchScope { collection, database, cluster };

class Stream : public EventSource {
 public:
  // `opts`: fullDocument, fullDocumentBeforeChange, resumeAfter, startAfter,
  // startAtOperationTime, maxAwaitTimeMS (default 1000), batchSize.
  Stream(Router &router, WatchScope scope, const std::string &db, const std::string &collection, DocView pipeline,
         DocView opts);
  ~Stream() override;
  const bson_t *next(int64_t timeout_ms) override;
  BsonPtr resume_token() override;
  void close() override;
  const std::string &db() const override { return db_; }

 private:
  std::string db_;
  std::mutex mu_;  // close() may come from another thread (close_streams, drop)
  Lease lease_;
  mongoc_change_stream_t *stream_ = nullptr;
  bool closed_ = false;
};

// One server-side stream, many subscribers: a pump thread reads events and gives each
// subscriber its own copy, in order. Holds one pooled client however many subscribe.
class SharedStream;

class Subscriber : public EventSource {
 public:
  Subscriber(std::shared_ptr<SharedStream> shared, std::string db);
  ~Subscriber() override;
  const bson_t *next(int64_t timeout_ms) override;
  BsonPtr resume_token() override;
  void close() override;
  const std::string &db() const override { return db_; }

  void deliver(const bson_t *event);  // called by the pump
  void end(const std::string &why);   // the shared stream stopped

 private:
  friend class SharedStream;
  std::shared_ptr<SharedStream> shared_;
  std::string db_;
  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<BsonPtr> queue_;
  BsonPtr current_, token_;
  bool closed_ = false;
  std::string ended_;
};

// Tracks every open stream per database, so that they can be counted and closed together.
class StreamRegistry {
 public:
  void add(const std::shared_ptr<EventSource> &s);
  size_t close(const std::string *db);  // nullptr: all
  size_t count(const std::string *db);
  // The shared stream for (db, collection), created on first use.
  std::shared_ptr<Subscriber> subscribe(Router &router, const std::string &db, const std::string &collection);
  void forget_shared(const std::string &key);

 private:
  std::mutex mu_;
  std::vector<std::weak_ptr<EventSource>> streams_;
  std::map<std::string, std::weak_ptr<SharedStream>> shared_;
};

}  // namespace pm::core
