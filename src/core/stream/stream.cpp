#include "stream/stream.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>

#include "base/error.hpp"
#include "base/fork.hpp"
#include "base/thread_name.hpp"

namespace pm::core {

namespace {

constexpr int32_t kDefaultMaxAwaitMs = 200;
constexpr size_t kMaxBacklog = 100000;

BsonPtr copy_of(const bson_t *b) { return BsonPtr(bson_copy(b)); }

}  // namespace

// ---- Stream ----------------------------------------------------------------------------------

Stream::Stream(Router &router, WatchScope scope, const std::string &db, const std::string &collection, DocView pipeline,
               DocView opts)
    : db_(scope == WatchScope::cluster ? "" : db) {
  // libmongoc wants a pipeline document (never NULL): an array, or {"pipeline": [...]}.
  std::string wrapped;
  if (pipeline.len == kJsonLength && pipeline.data != nullptr) {
    const char *s = static_cast<const char *>(pipeline.data);
    while (*s == ' ' || *s == '\n' || *s == '\t') ++s;
    if (*s == '[') {
      wrapped = std::string("{\"pipeline\": ") + s + "}";
      pipeline.data = wrapped.c_str();
    }
  }
  Doc p(pipeline, "pipeline");
  Doc o(opts, "watch options");
  bson_t options = BSON_INITIALIZER;
  bson_concat(&options, o.get());
  if (!bson_has_field(&options, "maxAwaitTimeMS")) BSON_APPEND_INT32(&options, "maxAwaitTimeMS", kDefaultMaxAwaitMs);

  std::shared_ptr<Pool> pool = scope == WatchScope::cluster ? router.shared_pool() : router.route(db);
  lease_ = router.checkout(pool);
  mongoc_client_t *client = lease_.client();
  if (scope == WatchScope::collection) {
    mongoc_collection_t *c = mongoc_client_get_collection(client, db.c_str(), collection.c_str());
    stream_ = mongoc_collection_watch(c, p.get(), &options);
    mongoc_collection_destroy(c);
  } else if (scope == WatchScope::database) {
    mongoc_database_t *d = mongoc_client_get_database(client, db.c_str());
    stream_ = mongoc_database_watch(d, p.get(), &options);
    mongoc_database_destroy(d);
  } else {
    stream_ = mongoc_client_watch(client, p.get(), &options);
  }
  bson_destroy(&options);
  bson_error_t error;
  const bson_t *reply = nullptr;
  if (mongoc_change_stream_error_document(stream_, &error, &reply)) {
    Error e = Error::from_driver(error, "watch " + (db_.empty() ? std::string("the cluster") : db_), reply);
    mongoc_change_stream_destroy(stream_);
    stream_ = nullptr;
    throw e;
  }
  lease_.pool()->pin(PinKind::stream, +1);
}

Stream::~Stream() { Stream::close(); }

void Stream::close() {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return;
  closed_ = true;
  if (stream_ != nullptr) {
    mongoc_change_stream_destroy(stream_);
    stream_ = nullptr;
    lease_.pool()->pin(PinKind::stream, -1);
  }
  lease_.release();
}

const bson_t *Stream::next(int64_t timeout_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) throw Error(Code::closed, "the change stream is closed");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max<int64_t>(0, timeout_ms));
  for (;;) {
    const bson_t *event = nullptr;
    // Waits up to maxAwaitTimeMS on the server; libmongoc resumes after resumable errors.
    if (mongoc_change_stream_next(stream_, &event)) return event;
    bson_error_t error;
    const bson_t *reply = nullptr;
    if (mongoc_change_stream_error_document(stream_, &error, &reply))
      throw Error::from_driver(error, "change stream on " + (db_.empty() ? std::string("the cluster") : db_), reply);
    if (std::chrono::steady_clock::now() >= deadline) return nullptr;
  }
}

BsonPtr Stream::resume_token() {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) throw Error(Code::closed, "the change stream is closed");
  const bson_t *token = mongoc_change_stream_get_resume_token(stream_);
  return token ? copy_of(token) : make_bson();
}

// ---- shared streams ----------------------------------------------------------------------------

class SharedStream {
 public:
  SharedStream(Router &router, const std::string &db, const std::string &collection)
      : inner_(router, collection.empty() ? WatchScope::database : WatchScope::collection, db, collection, DocView{}, DocView{}) {
    pump_ = std::thread([this] {
      name_this_thread("pm-stream");
      pump();
    });
  }
  ~SharedStream() {
    stop_ = true;
    join_or_forget(pump_, pump_fork_);  // the pump never owns the shared stream, so this is never the pump thread
    inner_.close();
  }
  void join(Subscriber *s) {
    std::lock_guard<std::mutex> lock(mu_);
    subs_.push_back(s);
  }
  void leave(Subscriber *s) {
    std::lock_guard<std::mutex> lock(mu_);
    subs_.erase(std::remove(subs_.begin(), subs_.end(), s), subs_.end());
  }

 private:
  void pump() {
    while (!stop_) {
      try {
        const bson_t *event = inner_.next(0);
        if (event == nullptr) continue;
        std::lock_guard<std::mutex> lock(mu_);
        for (Subscriber *s : subs_) s->deliver(event);
      } catch (const std::exception &e) {
        std::lock_guard<std::mutex> lock(mu_);
        for (Subscriber *s : subs_) s->end(e.what());
        return;
      }
    }
  }

  Stream inner_;
  std::mutex mu_;
  std::vector<Subscriber *> subs_;
  std::atomic<bool> stop_{false};
  std::thread pump_;
  uint64_t pump_fork_ = fork_generation();  // base/fork.hpp
};

Subscriber::Subscriber(std::shared_ptr<SharedStream> shared, std::string db)
    : shared_(std::move(shared)), db_(std::move(db)) {
  shared_->join(this);
}

Subscriber::~Subscriber() {
  Subscriber::close();
  shared_.reset();  // the last subscriber takes the shared stream (and its client) down
}

void Subscriber::close() {
  shared_->leave(this);
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  ready_.notify_all();
}

void Subscriber::deliver(const bson_t *event) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_ || !ended_.empty()) return;
  if (queue_.size() >= kMaxBacklog) {
    // Never lose events silently: a subscriber this far behind is ended instead.
    ended_ = "this subscriber fell more than 100000 events behind";
  } else {
    queue_.push_back(copy_of(event));
  }
  ready_.notify_all();
}

void Subscriber::end(const std::string &why) {
  std::lock_guard<std::mutex> lock(mu_);
  ended_ = why.empty() ? "the shared change stream ended" : why;
  ready_.notify_all();
}

const bson_t *Subscriber::next(int64_t timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  ready_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(0, timeout_ms)),
                  [&] { return closed_ || !queue_.empty() || !ended_.empty(); });
  if (closed_) throw Error(Code::closed, "the change stream is closed");
  if (!queue_.empty()) {
    current_ = std::move(queue_.front());
    queue_.pop_front();
    bson_iter_t it;
    if (bson_iter_init_find(&it, current_.get(), "_id") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
      uint32_t len;
      const uint8_t *data;
      bson_iter_document(&it, &len, &data);
      token_ = BsonPtr(bson_new_from_data(data, len));
    }
    return current_.get();
  }
  if (!ended_.empty()) throw Error(Code::connection, ended_);
  return nullptr;
}

BsonPtr Subscriber::resume_token() {
  std::lock_guard<std::mutex> lock(mu_);
  return token_ ? copy_of(token_.get()) : make_bson();
}

// ---- registry ---------------------------------------------------------------------------------

void StreamRegistry::add(const std::shared_ptr<EventSource> &s) {
  std::lock_guard<std::mutex> lock(mu_);
  streams_.erase(std::remove_if(streams_.begin(), streams_.end(), [](auto &w) { return w.expired(); }), streams_.end());
  streams_.push_back(s);
}

size_t StreamRegistry::close(const std::string *db) {
  std::vector<std::shared_ptr<EventSource>> victims;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = streams_.begin(); it != streams_.end();) {
      auto s = it->lock();
      if (s && (db == nullptr || s->db() == *db)) {
        victims.push_back(std::move(s));
        it = streams_.erase(it);
      } else {
        it = s ? std::next(it) : streams_.erase(it);
      }
    }
  }
  for (auto &s : victims) s->close();  // outside the lock: a close may wait for a next()
  return victims.size();
}

size_t StreamRegistry::count(const std::string *db) {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (auto &w : streams_)
    if (auto s = w.lock(); s && (db == nullptr || s->db() == *db)) ++n;
  return n;
}

std::shared_ptr<Subscriber> StreamRegistry::subscribe(Router &router, const std::string &db, const std::string &collection) {
  std::string key = db + "\n" + collection;
  std::shared_ptr<SharedStream> shared;
  {
    std::lock_guard<std::mutex> lock(mu_);
    shared = shared_[key].lock();
  }
  if (!shared) {
    auto fresh = std::make_shared<SharedStream>(router, db, collection);  // I/O: outside the lock
    std::lock_guard<std::mutex> lock(mu_);
    shared = shared_[key].lock();
    if (!shared) {
      shared_[key] = fresh;
      shared = fresh;
    }
  }
  auto sub = std::make_shared<Subscriber>(shared, db);
  add(sub);
  return sub;
}

}  // namespace pm::core
