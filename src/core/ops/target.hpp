// The operations on one collection of one database that a compensating transaction makes its
// writes and reads through. A plain Db (bound to no session) is one; txn/ never sees Db itself.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/doc.hpp"
#include "base/error.hpp"
#include "ops/cursor.hpp"
#include "ops/write_result.hpp"

namespace pm::core {

enum class Modify { update, replace, remove };

class CollectionTarget {
 public:
  virtual ~CollectionTarget() = default;
  virtual const std::string &name() const = 0;  // the database
  virtual const std::string &collection() const = 0;

  virtual WriteOutcome insert_many(const std::vector<DocView> &docs, DocView opts,
                                   bool want_result = true) const = 0;
  virtual WriteOutcome update(DocView filter, DocView update, DocView opts, bool many) const = 0;
  virtual WriteOutcome remove(DocView filter, DocView opts, bool many) const = 0;
  virtual std::unique_ptr<Cursor> find(DocView filter, DocView opts) const = 0;
  virtual std::optional<Bytes> find_one_and_modify(Modify kind, DocView filter, DocView change,
                                                   DocView opts) const = 0;
};

}  // namespace pm::core
