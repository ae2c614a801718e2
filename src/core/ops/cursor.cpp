#include "ops/cursor.hpp"

#include "base/error.hpp"

namespace pm::core {

Cursor::Cursor(std::shared_ptr<const void> owner, Lease lease, mongoc_collection_t *collection,
               mongoc_cursor_t *cursor, const std::string &context)
    : owner_(std::move(owner)), lease_(std::move(lease)), collection_(collection),
      cursor_(cursor), context_(context) {
  if (lease_.pool()) {
    lease_.pool()->pin(PinKind::cursor, +1);
    pinned_ = true;
  }
  try {
    primed_ = advance();
    primed_valid_ = true;
  } catch (...) {
    close();
    throw;
  }
  if (cursor_ != nullptr && lease_.pool() != nullptr) {  // still holds its client
    std::lock_guard<std::mutex> lock(mu_);
    registered_ = lease_.pool();
    registered_->add_revocable(this);
    if (lease_.revoked()) {  // force-closed before it could register: end it as revoke would
      revoked_ = true;
      close();
    }
  }
}

Cursor::~Cursor() {
  std::lock_guard<std::mutex> lock(mu_);
  close();
}

void Cursor::revoke() noexcept {
  std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
  if (!lock.owns_lock()) return;  // in a call: advance() sees the revoked lease afterwards
  registered_ = nullptr;          // the pool has forgotten this cursor
  if (cursor_ == nullptr) return;
  revoked_ = true;
  close(false);
}

void Cursor::close(bool deregister) noexcept {
  if (registered_ != nullptr && deregister) registered_->remove_revocable(this);
  registered_ = nullptr;
  // Destroying a cursor with a live id sends killCursors on its client, so it must happen
  // before the client goes back to the pool.
  if (cursor_ != nullptr) mongoc_cursor_destroy(cursor_);
  if (collection_ != nullptr) mongoc_collection_destroy(collection_);
  cursor_ = nullptr;
  collection_ = nullptr;
  if (pinned_) lease_.pool()->pin(PinKind::cursor, -1);
  pinned_ = false;
  lease_.release();
}

const bson_t *Cursor::advance() {
  if (cursor_ == nullptr) return nullptr;
  if (lease_.revoked()) {
    close();
    throw Error(Code::closed, context_ + ": the pool was force-closed");
  }
  const bson_t *doc = nullptr;
  if (mongoc_cursor_next(cursor_, &doc)) return doc;
  bson_error_t error;
  const bson_t *reply = nullptr;
  if (mongoc_cursor_error_document(cursor_, &error, &reply)) {
    Error e = Error::from_driver(error, context_, reply);
    close();
    throw e;
  }
  close();  // exhausted: give the client back now, not when the handle is freed
  return nullptr;
}

const bson_t *Cursor::next() {
  std::lock_guard<std::mutex> lock(mu_);
  if (revoked_) {  // reported once, as advance() reports a revoked lease; then the cursor ends
    revoked_ = false;
    throw Error(Code::closed, context_ + ": the pool was force-closed");
  }
  if (primed_valid_) {
    primed_valid_ = false;
    return primed_;
  }
  return advance();
}

}  // namespace pm::core
