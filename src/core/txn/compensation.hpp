// Compensating transactions across any pools and clusters, one undo log per session: the
// other implementation of Session (ops/session.hpp). It makes the writes of a db bound to it
// itself (WriteRecorder), on the plain target the db hands it, never on a Db.
//
// Every write made through a db bound to the session records its exact undo before returning:
// the ids it inserted (known before the write: polymongo assigns missing ids); the pre-image of
// exactly the documents it changed (single-document writes capture it atomically with
// find-and-modify; multi-document writes read the matching documents and then change exactly
// those ids); the id of a document an upsert created (assigned in advance with $setOnInsert).
// Rolling back runs the undos in reverse order and reports each one.
//
// With the journal, each undo record is written before its write to a journal collection on
// the same cluster (marked applied with the exact pre-image after it), and a transaction's
// records are removed when it commits or rolls back: what a crashed process leaves behind is
// rolled back by recover().
//
// Not isolation: other clients see the writes before commit, and a rollback restores
// pre-images over whatever they wrote to those documents meanwhile.
#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "base/doc.hpp"
#include "base/error.hpp"
#include "observe/log.hpp"
#include "ops/session.hpp"
#include "ops/target.hpp"
#include "pool/router.hpp"

namespace pm::core {

struct CompensationOptions {
  bool journal = false;
  std::string journal_db = "polymongo_journal";
  static CompensationOptions parse(DocView opts);
};

class CompensatingSession final : public Session, public WriteRecorder {
 public:
  // `router`: where each write's database is served (its journal goes to the same cluster).
  CompensatingSession(std::shared_ptr<Router> router, CompensationOptions options);

  void begin();
  // Undoes every recorded write, newest first; returns the report (JSON) and keeps it.
  std::string rollback();

  // ---- Session
  // Takes no options (Error invalid_argument when given some).
  void start_transaction(DocView opts) override;
  void commit() override;
  void abort() override { rollback(); }
  bool in_transaction() const override;
  // Begins, runs `body`, commits when it returns true, rolls back otherwise (the report is
  // kept). No retries: nothing here is transient. `opts` and `timeout_ms` are not used.
  bool with_transaction(const std::function<bool()> &body, DocView opts, int64_t timeout_ms) override;
  std::optional<std::string> rollback_report() const override;
  WriteRecorder *recorder() override { return this; }

  // ---- WriteRecorder: the writes of a db bound to this session, made on `plain`
  WriteOutcome insert_many(const CollectionTarget &plain, const std::vector<DocView> &docs,
                           DocView opts) override;
  WriteOutcome update(const CollectionTarget &plain, DocView filter, DocView update, DocView opts,
                      bool many, bool replace) override;
  WriteOutcome remove(const CollectionTarget &plain, DocView filter, DocView opts, bool many) override;

  // Rolls back what crashed processes left open in the journals of every cluster `router`
  // knows, for transactions older than `older_than_ms`. Returns a JSON report (also logged).
  static std::string recover(Router &router, const Log &log, const std::string &journal_db,
                             int64_t older_than_ms);

 private:
  enum class UndoKind { delete_ids, restore_docs };
  struct Step {
    uint64_t seq;
    std::string db, coll;
    UndoKind kind;
    std::vector<BsonPtr> items;  // {_id: v} documents, or whole pre-images
    std::shared_ptr<Pool> pool;  // the cluster the write (and its journal record) went to
  };

  uint64_t journal_pending(const CollectionTarget &plain, UndoKind kind, const std::vector<const bson_t *> &items);
  void journal_applied(const Step &step);
  void record(const CollectionTarget &plain, UndoKind kind, std::vector<BsonPtr> items, uint64_t seq);
  void require_active() const;

  std::shared_ptr<Router> router_;
  CompensationOptions options_;
  mutable std::mutex mu_;
  std::string txn_;  // empty: no transaction open
  uint64_t next_seq_ = 1;
  std::vector<Step> log_;
  std::set<Pool *> journaled_;  // clusters whose journal holds this transaction
  std::vector<std::shared_ptr<Pool>> journal_pools_;
  std::string report_;
};

}  // namespace pm::core
