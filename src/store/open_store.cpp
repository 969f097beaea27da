#include <string_view>

#include "store/postgres_store.h"
#include "store/sqlite_store.h"
#include "store/store.h"

namespace agentd::store {

StatusOr<std::unique_ptr<Store>> open_store(const std::string& url) {
  std::string_view u = url;
  std::unique_ptr<Store> store;
  if (u.starts_with("sqlite:")) {
    std::string_view rest = u.substr(7);
    SqliteOptions options;
    if (rest == ":memory:") {
      options.path = ":memory:";
    } else {
      // sqlite:///abs/path.db -> /abs/path.db; sqlite://rel.db -> rel.db.
      if (rest.starts_with("//")) rest.remove_prefix(2);
      options.path = std::string(rest);
    }
    if (options.path.empty()) return Status::invalid_argument("store URL '" + url + "' names no SQLite file");
    AGENTD_ASSIGN_OR_RETURN(store, SqliteStore::open(options));
  } else if (u.starts_with("postgresql://") || u.starts_with("postgres://")) {
    PostgresOptions options;
    options.url = url;
    AGENTD_ASSIGN_OR_RETURN(store, PostgresStore::open(options));
  } else {
    std::string_view scheme = u.substr(0, u.find(':'));
    return Status::invalid_argument("unknown store URL scheme '" + std::string(scheme) +
                                    "' (use sqlite:///path.db, sqlite::memory: or postgresql://...)");
  }
  AGENTD_RETURN_IF_ERROR(store->migrate());
  return store;
}

}  // namespace agentd::store
