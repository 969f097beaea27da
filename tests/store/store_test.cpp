// Every Store test runs on both backends: SQLite on a temporary file, and
// PostgreSQL on the server named by AGENTD_TEST_PG_URL (scripts/test.sh
// starts one), each test in a schema of its own that is dropped afterwards.
// Database state is checked with raw sqlite3 / libpq queries where the
// Store's own answers would be circular.

#include <libpq-fe.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/ids.h"
#include "store/migrations.h"
#include "store/postgres_store.h"
#include "store/store.h"

namespace agentd::store {
namespace {

#define ASSERT_OK(expr)                                         \
  do {                                                          \
    const auto& agentd_s_ = (expr);                             \
    ASSERT_TRUE(agentd_s_.is_ok()) << agentd_s_.status_text(); \
  } while (0)

// StatusOr and Status print differently; give both one spelling for ASSERT_OK.
struct Printable {
  Status s;
  bool is_ok() const { return s.is_ok(); }
  std::string status_text() const { return s.to_string(); }
};
Printable P(const Status& s) { return Printable{s}; }
template <typename T>
Printable P(const StatusOr<T>& s) {
  return Printable{s.status()};
}

enum class Backend { kSqlite, kPostgres };
void PrintTo(Backend b, std::ostream* os) { *os << (b == Backend::kSqlite ? "SQLite" : "PostgreSQL"); }

constexpr char kNoPgMessage[] =
    "AGENTD_TEST_PG_URL is not set, so the PostgreSQL store cannot be tested. Run the tests via "
    "scripts/test.sh (it starts a throwaway PostgreSQL), or start one with "
    "`scripts/pg-cluster.sh start DIR` and export AGENTD_TEST_PG_URL=<the URL it prints>.";

std::string pg_base_url() {
  const char* v = std::getenv("AGENTD_TEST_PG_URL");
  return v != nullptr ? std::string(v) : std::string();
}

// Runs one statement on a raw libpq connection; returns the first column of
// the first row ("" when none) or an error text starting with "ERROR".
void drop_notice(void*, const char*) {}

std::string pg_query(const std::string& url, const std::string& sql) {
  PGconn* c = PQconnectdb(url.c_str());
  PQsetNoticeProcessor(c, drop_notice, nullptr);  // "drop cascades to ..."
  std::string out;
  if (PQstatus(c) != CONNECTION_OK) {
    out = std::string("ERROR connect: ") + PQerrorMessage(c);
  } else {
    PGresult* r = PQexec(c, sql.c_str());
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
      out = std::string("ERROR ") + PQerrorMessage(c);
    } else if (st == PGRES_TUPLES_OK && PQntuples(r) > 0) {
      out = PQgetvalue(r, 0, 0);
    }
    PQclear(r);
  }
  PQfinish(c);
  return out;
}

std::string sqlite_query(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string out;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    out = "ERROR open";
  } else {
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
      out = std::string("ERROR ") + sqlite3_errmsg(db);
    } else if (sqlite3_step(st) == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(st, 0);
      out = t != nullptr ? reinterpret_cast<const char*>(t) : "";
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return out;
}

// Child mode: when this binary is started with AGENTD_STORE_CHILD_URL set,
// it is the second process of TwoProcessesDebitConcurrently. It opens its
// own Store, prints "ready", waits for a line on stdin, debits
// AGENTD_STORE_CHILD_ORG by 1 up to AGENTD_STORE_CHILD_TRIES times, prints
// how many succeeded and exits before GoogleTest starts.
const bool kIsDebitChild = [] {
  const char* url = std::getenv("AGENTD_STORE_CHILD_URL");
  if (url == nullptr) return false;
  const char* org = std::getenv("AGENTD_STORE_CHILD_ORG");
  const char* tries = std::getenv("AGENTD_STORE_CHILD_TRIES");
  auto store = open_store(url);
  if (org == nullptr || tries == nullptr || !store.is_ok()) {
    std::printf("error %s\n", store.status().to_string().c_str());
    std::fflush(stdout);
    std::_Exit(2);
  }
  std::printf("ready\n");
  std::fflush(stdout);
  char go[16];
  if (std::fgets(go, sizeof(go), stdin) == nullptr) std::_Exit(3);
  int ok = 0, other = 0;
  for (int i = 0, n = std::atoi(tries); i < n; ++i) {
    auto r = (*store)->try_debit(org, 1);
    if (r.is_ok()) {
      ++ok;
    } else if (r.status().code() != StatusCode::kInsufficientCredits) {
      ++other;
    }
  }
  std::printf("%d %d\n", ok, other);
  std::fflush(stdout);
  store = Status::cancelled("closing");  // close connections before exiting
  std::_Exit(0);
}();

class StoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kPostgres && pg_base_url().empty()) FAIL() << kNoPgMessage;
    url_ = fresh_url();
    auto opened = open_store(url_);
    ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
    store_ = std::move(opened).value();
  }

  void TearDown() override {
    store_.reset();
    for (const std::string& schema : schemas_) {
      std::string r = pg_query(pg_base_url(), "DROP SCHEMA IF EXISTS " + schema + " CASCADE");
      EXPECT_EQ(r.rfind("ERROR", 0), std::string::npos) << r;
    }
    for (const std::string& dir : dirs_) std::filesystem::remove_all(dir);
  }

  // A URL naming a new, empty database: a new file, or a new schema.
  std::string fresh_url() {
    if (GetParam() == Backend::kSqlite) {
      std::string dir = (std::filesystem::temp_directory_path() / ("agentd-store-" + random_hex(8))).string();
      std::filesystem::create_directories(dir);
      dirs_.push_back(dir);
      last_sqlite_path_ = dir + "/agentd.db";
      return "sqlite://" + last_sqlite_path_;  // an absolute path: sqlite:///tmp/...
    }
    std::string schema = "t_" + random_hex(8);
    std::string r = pg_query(pg_base_url(), "CREATE SCHEMA " + schema);
    EXPECT_EQ(r.rfind("ERROR", 0), std::string::npos) << r;
    schemas_.push_back(schema);
    std::string base = pg_base_url();
    // application_name lets a test find this store's server processes.
    return base + (base.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + schema +
           "&application_name=" + schema;
  }

  // First column of the first row of `sql`, run directly on the database of `url`.
  std::string raw_query(const std::string& url, const std::string& sql) {
    if (GetParam() == Backend::kSqlite) return sqlite_query(url.substr(std::string("sqlite://").size()), sql);
    return pg_query(url, sql);
  }

  Organization make_org(const std::string& name, Nanos credits = 0) {
    Organization o;
    o.id = new_uuid();
    o.name = name;
    o.credits = credits;
    o.created_ms = 1700000000000 + static_cast<int64_t>(++clock_);
    return o;
  }

  Organization add_org(const std::string& name, Nanos credits = 0) {
    Organization o = make_org(name, credits);
    Status s = store_->create_org(o);
    EXPECT_TRUE(s.is_ok()) << s.to_string();
    return o;
  }

  AgentVersion make_version(const std::string& agent_id, int64_t number) {
    AgentVersion v;
    v.id = new_uuid();
    v.agent_id = agent_id;
    v.number = number;
    v.version_name = "v" + std::to_string(number);
    v.description = "version " + std::to_string(number);
    v.created_ms = 1700000000000 + static_cast<int64_t>(++clock_);
    v.config.model = "tiny-random-q8";
    v.config.instructions = "Answer briefly.";
    return v;
  }

  // Creates an agent with one version; returns the agent as stored.
  Agent add_agent(const std::string& org_id, const std::string& name, const std::string& description = "",
                  bool active = true) {
    Agent a;
    a.id = new_uuid();
    a.org_id = org_id;
    a.name = name;
    a.description = description;
    a.active = active;
    a.creator = "ak_test";
    a.created_ms = 1700000000000 + static_cast<int64_t>(++clock_);
    a.updated_ms = a.created_ms;
    AgentVersion v = make_version(a.id, 1);
    a.current_version_id = v.id;
    Status s = store_->create_agent(a, v);
    EXPECT_TRUE(s.is_ok()) << s.to_string();
    return a;
  }

  ApiKey make_key(const std::string& org_id, const std::string& prefix) {
    ApiKey k;
    k.id = new_uuid();
    k.org_id = org_id;
    k.prefix = prefix;
    k.hash = sha256_hex("secret-" + prefix);
    k.created_ms = 1700000000000 + static_cast<int64_t>(++clock_);
    return k;
  }

  std::string url_;
  std::unique_ptr<Store> store_;
  std::string last_sqlite_path_;
  std::atomic<int> clock_{0};

 private:
  std::vector<std::string> schemas_;
  std::vector<std::string> dirs_;
};

// ---- Migrations ----

TEST_P(StoreTest, MigrationsAreRecordedAndIdempotent) {
  std::string count_sql = "SELECT count(*) FROM schema_migrations";
  EXPECT_EQ(raw_query(url_, count_sql), std::to_string(all_migrations().size()));
  EXPECT_EQ(raw_query(url_, "SELECT max(version) FROM schema_migrations"), std::to_string(latest_schema_version()));
  EXPECT_NE(raw_query(url_, "SELECT min(applied_ms) FROM schema_migrations"), "0");

  Organization org = add_org("acme");
  ASSERT_OK(P(store_->migrate()));
  ASSERT_OK(P(store_->migrate()));
  EXPECT_EQ(raw_query(url_, count_sql), std::to_string(all_migrations().size()));

  // A second instance starting on the same database migrates nothing and sees the data.
  auto second = open_store(url_);
  ASSERT_OK(P(second));
  EXPECT_EQ(raw_query(url_, count_sql), std::to_string(all_migrations().size()));
  auto got = (*second)->get_org(org.id);
  ASSERT_OK(P(got));
  EXPECT_EQ(got->name, "acme");
}

TEST_P(StoreTest, ConcurrentStartsMigrateOnce) {
  std::string url = fresh_url();
  constexpr int kStarters = 8;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  std::vector<std::string> errors(kStarters);
  for (int i = 0; i < kStarters; ++i) {
    threads.emplace_back([&, i] {
      auto s = open_store(url);  // as separate processes would, each its own Store
      if (s.is_ok()) {
        ++ok;
      } else {
        errors[i] = s.status().to_string();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const std::string& e : errors) EXPECT_EQ(e, "");
  EXPECT_EQ(ok.load(), kStarters);
  EXPECT_EQ(raw_query(url, "SELECT count(*) FROM schema_migrations"), std::to_string(all_migrations().size()));
}

TEST_P(StoreTest, NewerSchemaIsRefused) {
  std::string r = raw_query(url_, "INSERT INTO schema_migrations (version, name, applied_ms) VALUES (" +
                                      std::to_string(latest_schema_version() + 1) + ", 'from the future', 1)");
  ASSERT_EQ(r.rfind("ERROR", 0), std::string::npos) << r;
  Status s = store_->migrate();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.to_string();
}

TEST_P(StoreTest, PingAndKind) {
  ASSERT_OK(P(store_->ping()));
  EXPECT_EQ(store_->kind(), GetParam() == Backend::kSqlite ? "sqlite" : "postgresql");
}

// ---- Organizations and credits ----

TEST_P(StoreTest, OrganizationCrud) {
  Organization a = add_org("acme", 5'000'000'000);
  Organization b = add_org("globex");

  auto got = store_->get_org(a.id);
  ASSERT_OK(P(got));
  EXPECT_EQ(got->id, a.id);
  EXPECT_EQ(got->name, "acme");
  EXPECT_EQ(got->credits, 5'000'000'000);
  EXPECT_EQ(got->created_ms, a.created_ms);

  auto by_name = store_->get_org_by_name("globex");
  ASSERT_OK(P(by_name));
  EXPECT_EQ(by_name->id, b.id);

  auto list = store_->list_orgs();
  ASSERT_OK(P(list));
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "acme");
  EXPECT_EQ((*list)[1].name, "globex");

  EXPECT_EQ(store_->get_org(new_uuid()).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->get_org_by_name("initech").status().code(), StatusCode::kNotFound);
  // Names are compared exactly: a name that only differs in case is a different org.
  EXPECT_EQ(store_->get_org_by_name("ACME").status().code(), StatusCode::kNotFound);
}

TEST_P(StoreTest, OrganizationNameIsUnique) {
  add_org("acme");
  Status s = store_->create_org(make_org("acme"));
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists) << s.to_string();
  EXPECT_NE(s.message().find("acme"), std::string::npos) << s.message();
  auto list = store_->list_orgs();
  ASSERT_OK(P(list));
  EXPECT_EQ(list->size(), 1u);
}

TEST_P(StoreTest, CreditsAddAndDebit) {
  Organization org = add_org("acme", 100);
  auto r = store_->add_credits(org.id, 50);
  ASSERT_OK(P(r));
  EXPECT_EQ(*r, 150);
  r = store_->add_credits(org.id, -20);  // adjustments may be negative
  ASSERT_OK(P(r));
  EXPECT_EQ(*r, 130);

  r = store_->try_debit(org.id, 30);
  ASSERT_OK(P(r));
  EXPECT_EQ(*r, 100);
  r = store_->try_debit(org.id, 100);  // down to exactly zero is allowed
  ASSERT_OK(P(r));
  EXPECT_EQ(*r, 0);
  r = store_->try_debit(org.id, 1);
  EXPECT_EQ(r.status().code(), StatusCode::kInsufficientCredits) << r.status().to_string();
  r = store_->try_debit(org.id, -5);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);

  EXPECT_EQ(raw_query(url_, "SELECT credits FROM organizations WHERE name = 'acme'"), "0");

  EXPECT_EQ(store_->try_debit(new_uuid(), 1).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->add_credits(new_uuid(), 1).status().code(), StatusCode::kNotFound);
}

TEST_P(StoreTest, CreditsAreExactInt64Nanos) {
  // 9e18 nano-dollars: beyond what a double holds exactly.
  constexpr Nanos kBig = 9'000'000'000'000'000'001;
  Organization org = add_org("whale", kBig);
  auto r = store_->try_debit(org.id, 1);
  ASSERT_OK(P(r));
  EXPECT_EQ(*r, kBig - 1);
  // Adding past INT64_MAX is refused and leaves the balance alone.
  r = store_->add_credits(org.id, 300'000'000'000'000'000);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().to_string();
  EXPECT_EQ(raw_query(url_, "SELECT credits FROM organizations WHERE name = 'whale'"), std::to_string(kBig - 1));
  auto got = store_->get_org(org.id);
  ASSERT_OK(P(got));
  EXPECT_EQ(got->credits, kBig - 1);
}

// Many threads race to debit; the conditional UPDATE must let through
// exactly as many debits as the balance covers.
TEST_P(StoreTest, ConcurrentDebitsNeverOverdraw) {
  constexpr Nanos kStart = 1000, kAmount = 7;
  constexpr int kThreads = 8, kPerThread = 40;  // 2240 asked for, 1000 available
  Organization org = add_org("acme", kStart);
  std::atomic<int> ok{0}, refused{0}, other{0};
  std::atomic<Nanos> lowest{kStart};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r = store_->try_debit(org.id, kAmount);
        if (r.is_ok()) {
          ++ok;
          Nanos b = *r;
          Nanos cur = lowest.load();
          while (b < cur && !lowest.compare_exchange_weak(cur, b)) {
          }
        } else if (r.status().code() == StatusCode::kInsufficientCredits) {
          ++refused;
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(ok.load(), kStart / kAmount);  // 142
  EXPECT_EQ(refused.load(), kThreads * kPerThread - kStart / kAmount);
  EXPECT_EQ(lowest.load(), kStart % kAmount);  // 6
  auto got = store_->get_org(org.id);
  ASSERT_OK(P(got));
  EXPECT_EQ(got->credits, kStart % kAmount);
}

// Two Store instances on one database, as two agentd processes would be:
// debits and top-ups from both must add up exactly.
TEST_P(StoreTest, TwoInstancesDebitConcurrently) {
  auto second_or = open_store(url_);
  ASSERT_OK(P(second_or));
  std::unique_ptr<Store> second = std::move(second_or).value();
  constexpr Nanos kStart = 5000, kAmount = 3;
  constexpr int kThreadsPerStore = 4, kPerThread = 30;
  Organization org = add_org("acme", kStart);
  std::atomic<int> ok{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2 * kThreadsPerStore; ++t) {
    Store* s = t % 2 == 0 ? store_.get() : second.get();
    threads.emplace_back([&, s] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r = s->try_debit(org.id, kAmount);
        if (r.is_ok()) {
          ++ok;
          if (*r < 0) ++other;
        } else {
          ++other;
        }
        // A top-up of 1 on every fifth round, from the same instance.
        if (i % 5 == 0 && !s->add_credits(org.id, 1).is_ok()) ++other;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(other.load(), 0);
  int total_debits = 2 * kThreadsPerStore * kPerThread;  // 240 * 3 = 720 < 5000: all succeed
  EXPECT_EQ(ok.load(), total_debits);
  Nanos top_ups = 2 * kThreadsPerStore * (kPerThread / 5);
  Nanos expected = kStart - kAmount * total_debits + top_ups;
  EXPECT_EQ(raw_query(url_, "SELECT credits FROM organizations WHERE id = '" + org.id + "'"),
            std::to_string(expected));

  // Now drain it from both at once: never below zero.
  std::atomic<int> drained{0};
  threads.clear();
  for (int t = 0; t < 4; ++t) {
    Store* s = t % 2 == 0 ? store_.get() : second.get();
    threads.emplace_back([&, s] {
      while (true) {
        auto r = s->try_debit(org.id, 100);
        if (!r.is_ok()) break;
        ++drained;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(drained.load(), expected / 100);
  auto got = second->get_org(org.id);
  ASSERT_OK(P(got));
  EXPECT_EQ(got->credits, expected % 100);
}

// Two real processes on one database: the second is this test binary
// started again in child mode. Together they ask for more than the balance;
// exactly the balance is handed out.
TEST_P(StoreTest, TwoProcessesDebitConcurrently) {
  constexpr int kStart = 600, kChildTries = 350, kThreads = 3, kPerThread = 120;
  Organization org = add_org("acme", kStart);
  int to_child[2], from_child[2];
  ASSERT_EQ(pipe(to_child), 0);
  ASSERT_EQ(pipe(from_child), 0);
  std::string env_url = "AGENTD_STORE_CHILD_URL=" + url_;
  std::string env_org = "AGENTD_STORE_CHILD_ORG=" + org.id;
  std::string env_tries = "AGENTD_STORE_CHILD_TRIES=" + std::to_string(kChildTries);
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
  envp.push_back(env_url.data());
  envp.push_back(env_org.data());
  envp.push_back(env_tries.data());
  envp.push_back(nullptr);
  std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  char* argv[] = {self.data(), nullptr};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, to_child[0], 0);
  posix_spawn_file_actions_adddup2(&actions, from_child[1], 1);
  posix_spawn_file_actions_addclose(&actions, to_child[1]);
  posix_spawn_file_actions_addclose(&actions, from_child[0]);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, self.c_str(), &actions, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(to_child[0]);
  close(from_child[1]);
  ASSERT_EQ(rc, 0);
  FILE* child_out = fdopen(from_child[0], "r");
  char line[256] = {};
  ASSERT_NE(std::fgets(line, sizeof(line), child_out), nullptr);
  ASSERT_EQ(std::string(line), "ready\n");

  // Start both sides together.
  ASSERT_EQ(write(to_child[1], "go\n", 3), 3);
  close(to_child[1]);
  std::atomic<int> ok{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r = store_->try_debit(org.id, 1);
        if (r.is_ok()) {
          ++ok;
        } else if (r.status().code() != StatusCode::kInsufficientCredits) {
          ++other;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_NE(std::fgets(line, sizeof(line), child_out), nullptr);
  fclose(child_out);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  int child_ok = -1, child_other = -1;
  ASSERT_EQ(std::sscanf(line, "%d %d", &child_ok, &child_other), 2) << line;
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(child_other, 0);
  EXPECT_EQ(ok.load() + child_ok, kStart);
  std::printf("debits granted: %d in this process, %d in the child\n", ok.load(), child_ok);
  EXPECT_EQ(raw_query(url_, "SELECT credits FROM organizations WHERE id = '" + org.id + "'"), "0");
}

// ---- API keys ----

TEST_P(StoreTest, ApiKeyCrudAndRevoke) {
  Organization a = add_org("acme");
  Organization b = add_org("globex");
  ApiKey k1 = make_key(a.id, "ak_abc1");
  k1.admin = true;
  k1.rpm = 60;
  k1.tpm = 100000;
  k1.concurrency = 4;
  ASSERT_OK(P(store_->create_key(k1)));
  ApiKey k2 = make_key(a.id, "ak_abc2");
  ASSERT_OK(P(store_->create_key(k2)));
  ApiKey k3 = make_key(b.id, "ak_xyz9");
  ASSERT_OK(P(store_->create_key(k3)));

  auto found = store_->find_key_by_hash(sha256_hex("secret-ak_abc1"));
  ASSERT_OK(P(found));
  EXPECT_EQ(found->id, k1.id);
  EXPECT_EQ(found->org_id, a.id);
  EXPECT_EQ(found->prefix, "ak_abc1");
  EXPECT_TRUE(found->admin);
  EXPECT_EQ(found->rpm, 60);
  EXPECT_EQ(found->tpm, 100000);
  EXPECT_EQ(found->concurrency, 4);
  EXPECT_EQ(found->created_ms, k1.created_ms);
  EXPECT_FALSE(found->revoked);
  EXPECT_EQ(store_->find_key_by_hash(sha256_hex("nope")).status().code(), StatusCode::kNotFound);

  auto keys_a = store_->list_keys(a.id);
  ASSERT_OK(P(keys_a));
  ASSERT_EQ(keys_a->size(), 2u);
  EXPECT_EQ((*keys_a)[0].prefix, "ak_abc1");
  EXPECT_EQ((*keys_a)[1].prefix, "ak_abc2");
  auto keys_b = store_->list_keys(b.id);
  ASSERT_OK(P(keys_b));
  ASSERT_EQ(keys_b->size(), 1u);
  EXPECT_EQ((*keys_b)[0].id, k3.id);

  // Every key whose prefix starts with "ak_abc": both of acme's, not globex's.
  auto n = store_->revoke_keys("ak_abc");
  ASSERT_OK(P(n));
  EXPECT_EQ(*n, 2);
  auto again = store_->find_key_by_hash(k1.hash);
  ASSERT_OK(P(again));
  EXPECT_TRUE(again->revoked);
  auto other = store_->find_key_by_hash(k3.hash);
  ASSERT_OK(P(other));
  EXPECT_FALSE(other->revoked);
  n = store_->revoke_keys("ak_abc");  // nothing left to revoke
  ASSERT_OK(P(n));
  EXPECT_EQ(*n, 0);
  // LIKE wildcards in a prefix are plain characters.
  n = store_->revoke_keys("ak_%");
  ASSERT_OK(P(n));
  EXPECT_EQ(*n, 0);
  EXPECT_EQ(store_->revoke_keys("").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(raw_query(url_, "SELECT count(*) FROM api_keys WHERE revoked"), "2");
}

TEST_P(StoreTest, ApiKeyUniqueness) {
  Organization a = add_org("acme");
  ASSERT_OK(P(store_->create_key(make_key(a.id, "ak_same"))));
  ApiKey same_prefix = make_key(a.id, "ak_same");
  same_prefix.hash = sha256_hex("another secret");
  EXPECT_EQ(store_->create_key(same_prefix).code(), StatusCode::kAlreadyExists);
  ApiKey same_hash = make_key(a.id, "ak_other");
  same_hash.hash = sha256_hex("secret-ak_same");
  EXPECT_EQ(store_->create_key(same_hash).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->create_key(make_key(new_uuid(), "ak_orphan")).code(), StatusCode::kNotFound);
  auto keys = store_->list_keys(a.id);
  ASSERT_OK(P(keys));
  EXPECT_EQ(keys->size(), 1u);
}

// ---- Agents and versions ----

TEST_P(StoreTest, AgentCrud) {
  Organization org = add_org("acme");
  Agent a = add_agent(org.id, "support_bot", "Answers support questions");

  auto got = store_->get_agent(org.id, a.id);
  ASSERT_OK(P(got));
  EXPECT_EQ(got->id, a.id);
  EXPECT_EQ(got->org_id, org.id);
  EXPECT_EQ(got->name, "support_bot");
  EXPECT_EQ(got->description, "Answers support questions");
  EXPECT_TRUE(got->active);
  EXPECT_EQ(got->creator, "ak_test");
  EXPECT_EQ(got->created_ms, a.created_ms);
  EXPECT_EQ(got->updated_ms, a.updated_ms);
  EXPECT_EQ(got->current_version_id, a.current_version_id);

  auto by_name = store_->get_agent_by_name(org.id, "support_bot");
  ASSERT_OK(P(by_name));
  EXPECT_EQ(by_name->id, a.id);
  EXPECT_EQ(store_->get_agent_by_name(org.id, "nobody").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->get_agent(org.id, new_uuid()).status().code(), StatusCode::kNotFound);

  Agent changed = *got;
  changed.name = "helpdesk_bot";
  changed.description = "Renamed";
  changed.active = false;
  changed.updated_ms = a.updated_ms + 1000;
  ASSERT_OK(P(store_->update_agent(changed)));
  got = store_->get_agent(org.id, a.id);
  ASSERT_OK(P(got));
  EXPECT_EQ(got->name, "helpdesk_bot");
  EXPECT_EQ(got->description, "Renamed");
  EXPECT_FALSE(got->active);
  EXPECT_EQ(got->updated_ms, a.updated_ms + 1000);
  EXPECT_EQ(got->created_ms, a.created_ms);
  EXPECT_EQ(store_->get_agent_by_name(org.id, "support_bot").status().code(), StatusCode::kNotFound);

  Agent missing = changed;
  missing.id = new_uuid();
  EXPECT_EQ(store_->update_agent(missing).code(), StatusCode::kNotFound);

  ASSERT_OK(P(store_->delete_agent(org.id, a.id)));
  EXPECT_EQ(store_->get_agent(org.id, a.id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->delete_agent(org.id, a.id).code(), StatusCode::kNotFound);
  // Its versions went with it.
  auto versions = store_->list_versions(a.id);
  ASSERT_OK(P(versions));
  EXPECT_TRUE(versions->empty());
  EXPECT_EQ(raw_query(url_, "SELECT count(*) FROM agent_versions"), "0");
  // The name is free again.
  add_agent(org.id, "helpdesk_bot");
}

TEST_P(StoreTest, AgentNeedsAnExistingOrganization) {
  Agent a;
  a.id = new_uuid();
  a.org_id = new_uuid();
  a.name = "orphan";
  AgentVersion v = make_version(a.id, 1);
  a.current_version_id = v.id;
  EXPECT_EQ(store_->create_agent(a, v).code(), StatusCode::kNotFound);
  EXPECT_EQ(raw_query(url_, "SELECT count(*) FROM agents"), "0");
}

TEST_P(StoreTest, AgentNameUniquePerOrganization) {
  Organization a = add_org("acme");
  Organization b = add_org("globex");
  Agent first = add_agent(a.id, "writer");
  add_agent(b.id, "writer");  // another org may use the same name

  Agent dup;
  dup.id = new_uuid();
  dup.org_id = a.id;
  dup.name = "writer";
  AgentVersion v = make_version(dup.id, 1);
  dup.current_version_id = v.id;
  Status s = store_->create_agent(dup, v);
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists) << s.to_string();
  // The failed create left nothing behind, not even its version.
  EXPECT_EQ(store_->get_version(dup.id, v.id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(raw_query(url_, "SELECT count(*) FROM agent_versions"), "2");

  // Renaming onto a taken name clashes too.
  Agent second = add_agent(a.id, "editor");
  second.name = "writer";
  EXPECT_EQ(store_->update_agent(second).code(), StatusCode::kAlreadyExists);
  auto still = store_->get_agent(a.id, second.id);
  ASSERT_OK(P(still));
  EXPECT_EQ(still->name, "editor");
  auto kept = store_->get_agent(a.id, first.id);
  ASSERT_OK(P(kept));
  EXPECT_EQ(kept->name, "writer");
}

TEST_P(StoreTest, TenancyIsolatesAgents) {
  Organization a = add_org("acme");
  Organization b = add_org("globex");
  Agent mine = add_agent(a.id, "secret_agent", "acme only");

  EXPECT_EQ(store_->get_agent(b.id, mine.id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->get_agent_by_name(b.id, "secret_agent").status().code(), StatusCode::kNotFound);
  auto page = store_->list_agents(b.id, AgentQuery());
  ASSERT_OK(P(page));
  EXPECT_EQ(page->total, 0);
  EXPECT_TRUE(page->items.empty());

  Agent hijack = mine;
  hijack.org_id = b.id;
  hijack.name = "stolen";
  EXPECT_EQ(store_->update_agent(hijack).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->delete_agent(b.id, mine.id).code(), StatusCode::kNotFound);

  auto got = store_->get_agent(a.id, mine.id);
  ASSERT_OK(P(got));
  EXPECT_EQ(got->name, "secret_agent");
  EXPECT_EQ(got->org_id, a.id);
  page = store_->list_agents(a.id, AgentQuery());
  ASSERT_OK(P(page));
  EXPECT_EQ(page->total, 1);
}

TEST_P(StoreTest, ListAgentsPaginatesAndSearches) {
  Organization org = add_org("acme");
  Organization other = add_org("globex");
  add_agent(other.id, "translator_other_org", "Translates");
  std::vector<Agent> made;
  for (int i = 0; i < 12; ++i) {
    std::string name = "agent_" + std::string(i < 10 ? "0" : "") + std::to_string(i);
    std::string desc = i % 3 == 0 ? "Translates FRENCH text" : "Summarizes documents";
    made.push_back(add_agent(org.id, name, desc, /*active=*/i % 4 != 1));  // 1, 5, 9 inactive
  }
  made.push_back(add_agent(org.id, "odd_100%_name", "has a percent sign"));
  made.push_back(add_agent(org.id, "oddXname", "no underscore"));

  AgentQuery q;
  q.limit = 5;
  auto page = store_->list_agents(org.id, q);
  ASSERT_OK(P(page));
  EXPECT_EQ(page->total, 14);
  ASSERT_EQ(page->items.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(page->items[i].id, made[i].id);  // oldest first

  q.offset = 10;
  page = store_->list_agents(org.id, q);
  ASSERT_OK(P(page));
  EXPECT_EQ(page->total, 14);
  ASSERT_EQ(page->items.size(), 4u);
  EXPECT_EQ(page->items[0].id, made[10].id);
  EXPECT_EQ(page->items[3].id, made[13].id);

  q.offset = 100;  // past the end: no items, the total still told
  page = store_->list_agents(org.id, q);
  ASSERT_OK(P(page));
  EXPECT_EQ(page->total, 14);
  EXPECT_TRUE(page->items.empty());

  AgentQuery active_only;
  active_only.include_inactive = false;
  page = store_->list_agents(org.id, active_only);
  ASSERT_OK(P(page));
  EXPECT_EQ(page->total, 11);
  for (const Agent& a : page->items) EXPECT_TRUE(a.active) << a.name;

  AgentQuery search;
  search.search = "french";  // matches description, any case
  page = store_->list_agents(org.id, search);
  ASSERT_OK(P(page));
  EXPECT_EQ(page->total, 4);  // agents 0, 3, 6, 9; not the other org's
  search.search = "AGENT_1";  // matches name, any case: agent_10, agent_11
  page = store_->list_agents(org.id, search);
  ASSERT_OK(P(page));
  EXPECT_EQ(page->total, 2);
  search.search = "100%";  // % is literal
  page = store_->list_agents(org.id, search);
  ASSERT_OK(P(page));
  ASSERT_EQ(page->total, 1);
  EXPECT_EQ(page->items[0].name, "odd_100%_name");
  search.search = "odd_";  // _ is literal: not "oddXname"
  page = store_->list_agents(org.id, search);
  ASSERT_OK(P(page));
  ASSERT_EQ(page->total, 1);
  EXPECT_EQ(page->items[0].name, "odd_100%_name");
  search.search = "french";
  search.include_inactive = false;  // agent_09 is inactive
  page = store_->list_agents(org.id, search);
  ASSERT_OK(P(page));
  EXPECT_EQ(page->total, 3);

  AgentQuery bad;
  bad.offset = -1;
  EXPECT_EQ(store_->list_agents(org.id, bad).status().code(), StatusCode::kInvalidArgument);
  bad.offset = 0;
  bad.limit = -1;
  EXPECT_EQ(store_->list_agents(org.id, bad).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(StoreTest, VersionsRoundTripEveryField) {
  Organization org = add_org("acme");
  Agent a = add_agent(org.id, "planner");

  AgentVersion v = make_version(a.id, 2);
  v.version_name = "2.0.0";
  v.config.model = "qwen2-0.5b";
  v.config.instructions = "Say \"hi\" — politely.\nTwo lines, unicode: é中文 🙂";
  v.config.demonstrations = {{"2+2?", "4"}, {"Quote: \"x\"\\n", "{\"json\": [1, 2]}"}};
  v.config.temperature = 0.123456789012345;
  v.config.max_tokens = 4096;
  v.config.top_p = 0.95;
  v.config.input_definitions = {{"document", "application/pdf", "The file to read", "report.pdf"},
                                {"question", "text/plain", "", ""}};
  v.config.output_schema_json = R"({"type":"object","properties":{"answer":{"type":"string"}}})";
  v.config.engine_config_json = R"({"model":"qwen2-0.5b","instructions":"x"})";
  v.config.conversation_saving = false;
  ASSERT_OK(P(store_->create_version(v, /*make_current=*/false)));

  auto got = store_->get_version(a.id, v.id);
  ASSERT_OK(P(got));
  EXPECT_EQ(got->id, v.id);
  EXPECT_EQ(got->agent_id, a.id);
  EXPECT_EQ(got->number, 2);
  EXPECT_EQ(got->version_name, "2.0.0");
  EXPECT_EQ(got->description, v.description);
  EXPECT_EQ(got->created_ms, v.created_ms);
  EXPECT_EQ(got->config.model, "qwen2-0.5b");
  EXPECT_EQ(got->config.instructions, v.config.instructions);
  ASSERT_EQ(got->config.demonstrations.size(), 2u);
  EXPECT_EQ(got->config.demonstrations[1].input, "Quote: \"x\"\\n");
  EXPECT_EQ(got->config.demonstrations[1].output, "{\"json\": [1, 2]}");
  EXPECT_EQ(got->config.temperature, 0.123456789012345);  // exact, not approximately
  EXPECT_EQ(got->config.max_tokens, 4096);
  ASSERT_TRUE(got->config.top_p.has_value());
  EXPECT_EQ(*got->config.top_p, 0.95);
  ASSERT_EQ(got->config.input_definitions.size(), 2u);
  EXPECT_EQ(got->config.input_definitions[0].key, "document");
  EXPECT_EQ(got->config.input_definitions[0].data_type, "application/pdf");
  EXPECT_EQ(got->config.input_definitions[0].description, "The file to read");
  EXPECT_EQ(got->config.input_definitions[0].example, "report.pdf");
  EXPECT_EQ(got->config.input_definitions[1].data_type, "text/plain");
  EXPECT_EQ(got->config.output_schema_json, v.config.output_schema_json);
  EXPECT_EQ(got->config.engine_config_json, v.config.engine_config_json);
  EXPECT_FALSE(got->config.conversation_saving);

  // Stored as JSON text that other tools can read.
  EXPECT_EQ(raw_query(url_, "SELECT demonstrations_json FROM agent_versions WHERE id = '" + v.id + "'"),
            R"([{"input":"2+2?","output":"4"},{"input":"Quote: \"x\"\\n","output":"{\"json\": [1, 2]}"}])");

  // The first version has no top_p and no lists.
  auto first = store_->get_version(a.id, a.current_version_id);
  ASSERT_OK(P(first));
  EXPECT_FALSE(first->config.top_p.has_value());
  EXPECT_TRUE(first->config.demonstrations.empty());
  EXPECT_TRUE(first->config.input_definitions.empty());
  EXPECT_EQ(first->config.temperature, 0.7);
  EXPECT_TRUE(first->config.conversation_saving);
}

TEST_P(StoreTest, VersionsListMakeCurrentAndUpdate) {
  Organization org = add_org("acme");
  Agent a = add_agent(org.id, "planner");
  std::string v1 = a.current_version_id;

  AgentVersion v2 = make_version(a.id, 2);
  ASSERT_OK(P(store_->create_version(v2, /*make_current=*/false)));
  auto got = store_->get_agent(org.id, a.id);
  ASSERT_OK(P(got));
  EXPECT_EQ(got->current_version_id, v1);

  AgentVersion v3 = make_version(a.id, 3);
  ASSERT_OK(P(store_->create_version(v3, /*make_current=*/true)));
  got = store_->get_agent(org.id, a.id);
  ASSERT_OK(P(got));
  EXPECT_EQ(got->current_version_id, v3.id);
  EXPECT_EQ(got->updated_ms, v3.created_ms);

  auto list = store_->list_versions(a.id);
  ASSERT_OK(P(list));
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].id, v1);
  EXPECT_EQ((*list)[1].id, v2.id);
  EXPECT_EQ((*list)[2].id, v3.id);

  // Same number twice clashes; a version of an unknown agent is refused.
  AgentVersion dup = make_version(a.id, 3);
  EXPECT_EQ(store_->create_version(dup, true).code(), StatusCode::kAlreadyExists);
  got = store_->get_agent(org.id, a.id);
  ASSERT_OK(P(got));
  EXPECT_EQ(got->current_version_id, v3.id);  // the failed make_current did not stick
  EXPECT_EQ(store_->create_version(make_version(new_uuid(), 1), false).code(), StatusCode::kNotFound);

  // Update replaces config, name and description.
  v2.version_name = "2.1";
  v2.description = "tuned";
  v2.config.instructions = "New instructions";
  v2.config.demonstrations = {{"in", "out"}};
  v2.config.top_p = 0.5;
  ASSERT_OK(P(store_->update_version(v2)));
  auto v2_got = store_->get_version(a.id, v2.id);
  ASSERT_OK(P(v2_got));
  EXPECT_EQ(v2_got->version_name, "2.1");
  EXPECT_EQ(v2_got->description, "tuned");
  EXPECT_EQ(v2_got->config.instructions, "New instructions");
  ASSERT_EQ(v2_got->config.demonstrations.size(), 1u);
  EXPECT_EQ(v2_got->config.demonstrations[0].output, "out");
  EXPECT_EQ(v2_got->config.top_p, std::optional<double>(0.5));
  EXPECT_EQ(v2_got->number, 2);

  AgentVersion ghost = v2;
  ghost.id = new_uuid();
  EXPECT_EQ(store_->update_version(ghost).code(), StatusCode::kNotFound);

  // Versions are addressed through their agent.
  Agent other = add_agent(org.id, "other");
  EXPECT_EQ(store_->get_version(other.id, v2.id).status().code(), StatusCode::kNotFound);
  // An agent cannot point at another agent's version.
  Agent wrong = *got;
  wrong.current_version_id = other.current_version_id;
  EXPECT_EQ(store_->update_agent(wrong).code(), StatusCode::kInvalidArgument);
  // Pointing back at an older version of its own is fine.
  Agent back = *got;
  back.current_version_id = v1;
  ASSERT_OK(P(store_->update_agent(back)));
  got = store_->get_agent(org.id, a.id);
  ASSERT_OK(P(got));
  EXPECT_EQ(got->current_version_id, v1);
}

// Untrusted text with a NUL byte or invalid UTF-8 is either stored exactly
// (SQLite) or refused as bad input (PostgreSQL) -- never cut short or
// reported as an internal error.
TEST_P(StoreTest, OddTextIsKeptExactlyOrRefused) {
  Organization org = add_org("acme");
  Agent a = add_agent(org.id, "texty");
  const std::string cases[] = {std::string("before\0after", 12), std::string("bad \xff\xfe utf8")};
  int number = 2;
  for (const std::string& text : cases) {
    AgentVersion v = make_version(a.id, number++);
    v.config.instructions = text;
    v.config.demonstrations = {{text, text}};
    v.config.input_definitions = {{"k", "text/plain", text, text}};
    Status s = store_->create_version(v, false);
    if (GetParam() == Backend::kPostgres) {
      EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.to_string();
      continue;
    }
    ASSERT_OK(P(s));
    auto got = store_->get_version(a.id, v.id);
    ASSERT_OK(P(got));
    EXPECT_EQ(got->config.instructions, text);
    ASSERT_EQ(got->config.demonstrations.size(), 1u);
    EXPECT_EQ(got->config.demonstrations[0].input, text);
    EXPECT_EQ(got->config.demonstrations[0].output, text);
    ASSERT_EQ(got->config.input_definitions.size(), 1u);
    EXPECT_EQ(got->config.input_definitions[0].example, text);
  }
  // The agent itself is untouched either way.
  auto got = store_->get_agent(org.id, a.id);
  ASSERT_OK(P(got));
  EXPECT_EQ(got->current_version_id, a.current_version_id);
}

TEST_P(StoreTest, SessionsAppendInOrderAndAreIsolated) {
  Organization o = add_org("acme");
  Organization other = add_org("other");
  Agent a = add_agent(o.id, "bot");
  Agent b = add_agent(other.id, "bot");
  ASSERT_OK(P(store_->append_turns(o.id, a.id, "s1", {{0, "user", "hi", 0, 0}, {0, "assistant", "hello", 2, 0}}, 1000)));
  ASSERT_OK(P(store_->append_turns(o.id, a.id, "s1", {{0, "user", "again", 0, 5}}, 2000)));
  ASSERT_OK(P(store_->append_turns(other.id, b.id, "s1", {{0, "user", "theirs", 0, 0}}, 3000)));
  auto turns = store_->list_turns(o.id, a.id, "s1");
  ASSERT_OK(P(turns));
  ASSERT_EQ(turns->size(), 3u);
  EXPECT_EQ((*turns)[0].seq, 1);
  EXPECT_EQ((*turns)[1].content, "hello");
  EXPECT_EQ((*turns)[1].tokens, 2);
  EXPECT_EQ((*turns)[1].created_ms, 1000);  // 0 = the append's time
  EXPECT_EQ((*turns)[2].seq, 3);
  EXPECT_EQ((*turns)[2].created_ms, 5);
  EXPECT_EQ(raw_query(url_, "SELECT count(*) FROM session_turns"), "4");
  auto s = store_->get_session(o.id, a.id, "s1");
  ASSERT_OK(P(s));
  EXPECT_EQ(s->created_ms, 1000);
  EXPECT_EQ(s->updated_ms, 2000);
  EXPECT_EQ(s->turn_count, 3);
  // Another organization's agent cannot be written through this org.
  EXPECT_EQ(store_->append_turns(o.id, b.id, "s1", {{0, "user", "x", 0, 0}}, 1).code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->list_turns(o.id, b.id, "s1")->empty());
  ASSERT_OK(P(store_->append_turns(o.id, a.id, "s2", {{0, "user", "new", 0, 0}}, 4000)));
  auto list = store_->list_sessions(o.id, a.id, 10);
  ASSERT_OK(P(list));
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].session_id, "s2");  // most recently updated first
  ASSERT_OK(P(store_->delete_session(o.id, a.id, "s1")));
  EXPECT_EQ(store_->delete_session(o.id, a.id, "s1").code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->list_turns(o.id, a.id, "s1")->empty());
  EXPECT_EQ(raw_query(url_, "SELECT count(*) FROM session_turns"), "2");
  // Deleting the agent deletes its sessions.
  ASSERT_OK(P(store_->delete_agent(o.id, a.id)));
  EXPECT_EQ(raw_query(url_, "SELECT count(*) FROM sessions"), "1");
}

TEST_P(StoreTest, RunsAggregateIntoUsage) {
  Organization o = add_org("acme");
  Agent a = add_agent(o.id, "bot");
  Agent b = add_agent(o.id, "other");
  auto run = [&](const std::string& agent, const std::string& model, int64_t in, int64_t out, Nanos cost,
                 int64_t latency, const std::string& status, int64_t at) {
    store::Run r;
    r.id = new_uuid();
    r.org_id = o.id;
    r.agent_id = agent;
    r.model = model;
    r.input_tokens = in;
    r.output_tokens = out;
    r.cost = cost;
    r.latency_ms = latency;
    r.status = status;
    r.created_ms = at;
    r.endpoint = "test";
    return r;
  };
  ASSERT_OK(P(store_->record_run(run(a.id, "m1", 10, 5, 100, 20, "ok", 1000))));
  ASSERT_OK(P(store_->record_run(run(a.id, "m1", 7, 0, 0, 40, "failed", 3000))));
  ASSERT_OK(P(store_->record_run(run(a.id, "m2", 1, 2, 30, 60, "ok", 2000))));
  ASSERT_OK(P(store_->record_run(run(b.id, "m2", 100, 200, 4000000000000LL, 80, "ok", 500))));
  auto u = store_->agent_usage(o.id, a.id);
  ASSERT_OK(P(u));
  EXPECT_EQ(u->usage_count, 3);
  EXPECT_EQ(u->total_requests, 3);
  EXPECT_EQ(u->last_used_ms, 3000);
  EXPECT_DOUBLE_EQ(u->average_latency_ms, 40.0);
  EXPECT_DOUBLE_EQ(u->success_rate, 2.0 / 3.0);
  auto none = store_->agent_usage(o.id, new_uuid());
  ASSERT_OK(P(none));
  EXPECT_EQ(none->usage_count, 0);
  EXPECT_EQ(none->success_rate, 0);
  auto org = store_->org_usage(o.id);
  ASSERT_OK(P(org));
  EXPECT_EQ(org->requests, 4);
  EXPECT_EQ(org->failed_requests, 1);
  EXPECT_EQ(org->input_tokens, 118);
  EXPECT_EQ(org->output_tokens, 207);
  EXPECT_EQ(org->cost, 4000000000130LL);
  ASSERT_EQ(org->by_model.size(), 2u);
  EXPECT_EQ(org->by_model[0].model, "m1");
  EXPECT_EQ(org->by_model[0].requests, 2);
  EXPECT_EQ(org->by_model[1].cost, 4000000000030LL);
  auto runs = store_->list_runs(o.id, a.id, 2);
  ASSERT_OK(P(runs));
  ASSERT_EQ(runs->size(), 2u);
  EXPECT_EQ((*runs)[0].created_ms, 3000);  // newest first
  EXPECT_EQ((*runs)[0].status, "failed");
  EXPECT_EQ(store_->list_runs(o.id, "", 100)->size(), 4u);
  Organization other = add_org("other");
  EXPECT_EQ(store_->org_usage(other.id)->requests, 0);
}

TEST_P(StoreTest, JobsTransitionOnlyFromTheExpectedState) {
  Organization o = add_org("acme");
  Agent a = add_agent(o.id, "bot");
  std::vector<Job> jobs;
  for (int i = 0; i < 3; ++i) {
    Job j;
    j.id = new_uuid();
    j.org_id = o.id;
    j.agent_id = a.id;
    j.batch_id = "batch-1";
    j.inputs_json = "{\"i\":" + std::to_string(i) + "}";
    j.created_ms = j.updated_ms = 1000;
    jobs.push_back(j);
  }
  ASSERT_OK(P(store_->create_jobs(jobs)));
  auto batch = store_->list_batch(o.id, "batch-1");
  ASSERT_OK(P(batch));
  ASSERT_EQ(batch->size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ((*batch)[i].id, jobs[i].id);  // submission order
  // A duplicate id fails the whole insert.
  EXPECT_EQ(store_->create_jobs({jobs[0]}).code(), StatusCode::kAlreadyExists);
  auto moved = store_->transition_job(jobs[0].id, kJobPending, kJobStarted, 1, 2000);
  ASSERT_OK(P(moved));
  EXPECT_TRUE(*moved);
  EXPECT_FALSE(*store_->transition_job(jobs[0].id, kJobPending, kJobStarted, 1, 2000));
  EXPECT_EQ(store_->jobs_with_status(kJobStarted)->size(), 1u);
  EXPECT_EQ(store_->jobs_with_status(kJobPending)->size(), 2u);
  EXPECT_TRUE(*store_->finish_job(jobs[0].id, kJobSuccess, "{\"outputs\":\"x\"}", "", 3000));
  EXPECT_FALSE(*store_->finish_job(jobs[0].id, kJobFailure, "", "late", 4000));
  auto got = store_->get_job(o.id, jobs[0].id);
  ASSERT_OK(P(got));
  EXPECT_EQ(got->status, kJobSuccess);
  EXPECT_EQ(got->attempts, 1);
  EXPECT_EQ(got->result_json, "{\"outputs\":\"x\"}");
  EXPECT_EQ(got->updated_ms, 3000);
  // Finishing a job that is not started does nothing (a cancel got there first).
  EXPECT_TRUE(*store_->transition_job(jobs[1].id, kJobPending, kJobCancelled, 0, 5000));
  EXPECT_FALSE(*store_->finish_job(jobs[1].id, kJobSuccess, "{}", "", 6000));
  EXPECT_EQ(store_->get_job(o.id, jobs[1].id)->status, kJobCancelled);
  Organization other = add_org("other");
  EXPECT_EQ(store_->get_job(other.id, jobs[0].id).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->list_batch(other.id, "batch-1")->empty());
}

TEST_P(StoreTest, AgentRoeSettingsRoundTrip) {
  Organization o = add_org("acme");
  Agent a = add_agent(o.id, "bot");
  auto got = store_->get_agent(o.id, a.id);
  ASSERT_OK(P(got));
  EXPECT_EQ(got->engine_class_id, "");
  EXPECT_FALSE(got->disable_cache);
  got->engine_class_id = "MultimodalExtractionEngine";
  got->disable_cache = true;
  got->cache_failed_jobs = true;
  ASSERT_OK(P(store_->update_agent(*got)));
  auto again = store_->get_agent_by_name(o.id, "bot");
  ASSERT_OK(P(again));
  EXPECT_EQ(again->engine_class_id, "MultimodalExtractionEngine");
  EXPECT_TRUE(again->disable_cache);
  EXPECT_TRUE(again->cache_failed_jobs);
}

TEST_P(StoreTest, DeleteVersionSparesTheCurrentOne) {
  Organization o = add_org("acme");
  Agent a = add_agent(o.id, "bot");
  AgentVersion v2 = make_version(a.id, 2);
  ASSERT_OK(P(store_->create_version(v2, false)));
  EXPECT_EQ(store_->delete_version(a.id, a.current_version_id).code(), StatusCode::kFailedPrecondition);
  ASSERT_OK(P(store_->delete_version(a.id, v2.id)));
  EXPECT_EQ(store_->delete_version(a.id, v2.id).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->delete_version(new_uuid(), v2.id).code(), StatusCode::kNotFound);
  auto left = store_->list_versions(a.id);
  ASSERT_OK(P(left));
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].id, a.current_version_id);
}

TEST_P(StoreTest, AgentJobsListStatsAndClearedData) {
  Organization o = add_org("acme");
  Agent a = add_agent(o.id, "bot");
  Agent b = add_agent(o.id, "other_bot");
  std::vector<Job> jobs;
  for (int i = 0; i < 4; ++i) {
    Job j;
    j.id = new_uuid();
    j.org_id = o.id;
    j.agent_id = i < 3 ? a.id : b.id;
    j.inputs_json = "{\"i\":" + std::to_string(i) + "}";
    j.metadata_json = "{\"m\":" + std::to_string(i) + "}";
    j.created_ms = j.updated_ms = 1000 + i;
    jobs.push_back(j);
  }
  ASSERT_OK(P(store_->create_jobs(jobs)));
  ASSERT_TRUE(*store_->transition_job(jobs[0].id, kJobPending, kJobStarted, 1, 2000));
  ASSERT_TRUE(*store_->finish_job(jobs[0].id, kJobSuccess, "{\"outputs\":\"x\"}", "", 3000));

  JobQuery q;
  q.limit = 2;
  auto page = store_->list_agent_jobs(o.id, a.id, q);
  ASSERT_OK(P(page));
  EXPECT_EQ(page->total, 3);
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[0].id, jobs[2].id);  // newest first
  EXPECT_EQ(page->items[1].id, jobs[1].id);
  EXPECT_EQ(page->items[0].metadata_json, "{\"m\":2}");
  q.offset = 2;
  EXPECT_EQ(store_->list_agent_jobs(o.id, a.id, q)->items.at(0).id, jobs[0].id);
  JobQuery done;
  done.status = kJobSuccess;
  auto ok = store_->list_agent_jobs(o.id, a.id, done);
  ASSERT_OK(P(ok));
  EXPECT_EQ(ok->total, 1);
  EXPECT_EQ(ok->items.at(0).id, jobs[0].id);
  JobQuery bad;
  bad.offset = -1;
  EXPECT_EQ(store_->list_agent_jobs(o.id, a.id, bad).status().code(), StatusCode::kInvalidArgument);

  auto stats = store_->job_stats(o.id);
  ASSERT_OK(P(stats));
  EXPECT_EQ(stats->size(), 2u);
  EXPECT_EQ(stats->at(a.id).count, 3);
  EXPECT_EQ(stats->at(a.id).last_created_ms, 1002);
  EXPECT_EQ(stats->at(b.id).count, 1);

  // Only an ended job's data is cleared; its status and times stay.
  EXPECT_FALSE(*store_->clear_job_data(o.id, jobs[1].id, 4000));
  EXPECT_EQ(store_->get_job(o.id, jobs[1].id)->inputs_json, "{\"i\":1}");
  EXPECT_TRUE(*store_->clear_job_data(o.id, jobs[0].id, 4000));
  auto cleared = store_->get_job(o.id, jobs[0].id);
  ASSERT_OK(P(cleared));
  EXPECT_EQ(cleared->status, kJobSuccess);
  EXPECT_EQ(cleared->inputs_json, "{}");
  EXPECT_EQ(cleared->metadata_json, "{}");
  EXPECT_EQ(cleared->result_json, "");
  EXPECT_EQ(cleared->created_ms, 1000);

  // Another organization sees none of it.
  Organization other = add_org("other");
  EXPECT_EQ(store_->list_agent_jobs(other.id, a.id, JobQuery{})->total, 0);
  EXPECT_TRUE(store_->job_stats(other.id)->empty());
  EXPECT_EQ(store_->clear_job_data(other.id, jobs[0].id, 5000).status().code(), StatusCode::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const ::testing::TestParamInfo<Backend>& info) {
                           return info.param == Backend::kSqlite ? std::string("SQLite") : std::string("PostgreSQL");
                         });

// ---- Backend-specific behaviour ----

TEST(OpenStore, UnknownSchemeIsNamed) {
  auto s = open_store("mysql://root@localhost/agentd");
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("'mysql'"), std::string::npos) << s.status().message();
  EXPECT_EQ(open_store("").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(open_store("sqlite://").status().code(), StatusCode::kInvalidArgument);
}

TEST(OpenStore, SqliteFileUsesWalAndRelativePaths) {
  std::string dir = (std::filesystem::temp_directory_path() / ("agentd-rel-" + random_hex(8))).string();
  std::filesystem::create_directories(dir);
  auto old_cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir);
  {
    auto s = open_store("sqlite://relative.db");
    std::filesystem::current_path(old_cwd);
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    EXPECT_EQ((*s)->kind(), "sqlite");
    // The file stays the one it named when opened, though the working
    // directory has changed since (reads use connections opened later).
    Organization org{new_uuid(), "acme", 1, 1};
    ASSERT_TRUE((*s)->create_org(org).is_ok());
    auto got = (*s)->get_org(org.id);
    ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  }
  std::filesystem::current_path(old_cwd);
  EXPECT_TRUE(std::filesystem::exists(dir + "/relative.db"));
  EXPECT_EQ(sqlite_query(dir + "/relative.db", "PRAGMA journal_mode"), "wal");
  std::filesystem::remove_all(dir);
}

TEST(OpenStore, SqliteUnopenableFileIsUnavailable) {
  auto s = open_store("sqlite:///nonexistent-dir-" + random_hex(6) + "/x.db");
  EXPECT_EQ(s.status().code(), StatusCode::kUnavailable) << s.status().to_string();
}

// The in-memory database is one database for every thread that uses it.
TEST(OpenStore, SqliteMemoryIsOneDatabase) {
  auto opened = open_store("sqlite::memory:");
  ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
  Store& store = **opened;
  Organization org{new_uuid(), "acme", 100, 1};
  ASSERT_TRUE(store.create_org(org).is_ok());
  std::atomic<int> seen{0}, debited{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        if (store.get_org(org.id).is_ok()) ++seen;
        if (store.try_debit(org.id, 3).is_ok()) ++debited;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(seen.load(), 80);
  EXPECT_EQ(debited.load(), 33);
  auto got = store.get_org(org.id);
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(got->credits, 1);
  // A second in-memory store is a separate, empty database.
  auto second = open_store("sqlite::memory:");
  ASSERT_TRUE(second.is_ok());
  EXPECT_EQ((*second)->get_org(org.id).status().code(), StatusCode::kNotFound);
}

TEST(OpenStore, PostgresDownIsUnavailable) {
  // Port 1 on loopback: nothing listens there, the connection is refused at once.
  auto s = open_store("postgresql://agentd@127.0.0.1:1/agentd_test?connect_timeout=2");
  EXPECT_EQ(s.status().code(), StatusCode::kUnavailable) << s.status().to_string();
}

// A store keeps working after the server drops its connections (as on a
// server restart): the next call reconnects.
TEST(PostgresStore, ReconnectsAfterConnectionsAreKilled) {
  std::string base = pg_base_url();
  if (base.empty()) FAIL() << kNoPgMessage;
  std::string schema = "t_" + random_hex(8);
  ASSERT_EQ(pg_query(base, "CREATE SCHEMA " + schema).rfind("ERROR", 0), std::string::npos);
  std::string url = base + (base.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + schema +
                    "&application_name=" + schema;
  {
    auto opened = open_store(url);
    ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
    Store& store = **opened;
    Organization org{new_uuid(), "acme", 10, 1};
    ASSERT_TRUE(store.create_org(org).is_ok());
    // Warm several pooled connections.
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 5; ++i) EXPECT_TRUE(store.get_org(org.id).is_ok());
      });
    }
    for (auto& t : threads) t.join();

    std::string killed = pg_query(base,
                                  "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                  "WHERE application_name = '" + schema + "'");
    ASSERT_NE(killed, "0") << "no connection of the store was found to kill";
    ASSERT_EQ(killed.rfind("ERROR", 0), std::string::npos) << killed;

    auto got = store.get_org(org.id);
    ASSERT_TRUE(got.is_ok()) << got.status().to_string();
    auto debit = store.try_debit(org.id, 4);
    ASSERT_TRUE(debit.is_ok()) << debit.status().to_string();
    EXPECT_EQ(*debit, 6);
    EXPECT_TRUE(store.ping().is_ok());
  }
  pg_query(base, "DROP SCHEMA " + schema + " CASCADE");
}

// A debit stuck behind another process's row lock gives up after the
// statement timeout instead of holding the request forever.
TEST(PostgresStore, StatementTimeoutBoundsLockWaits) {
  std::string base = pg_base_url();
  if (base.empty()) FAIL() << kNoPgMessage;
  std::string schema = "t_" + random_hex(8);
  ASSERT_EQ(pg_query(base, "CREATE SCHEMA " + schema).rfind("ERROR", 0), std::string::npos);
  std::string url = base + (base.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + schema;
  {
    PostgresOptions options;
    options.url = url;
    options.statement_timeout_ms = 300;
    auto opened = PostgresStore::open(options);
    ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
    PostgresStore& store = **opened;
    ASSERT_TRUE(store.migrate().is_ok());
    Organization org{new_uuid(), "acme", 10, 1};
    ASSERT_TRUE(store.create_org(org).is_ok());

    PGconn* holder = PQconnectdb(url.c_str());
    ASSERT_EQ(PQstatus(holder), CONNECTION_OK);
    PQclear(PQexec(holder, "BEGIN"));
    PQclear(PQexec(holder, ("SELECT credits FROM organizations WHERE id = '" + org.id + "' FOR UPDATE").c_str()));
    auto start = std::chrono::steady_clock::now();
    auto r = store.try_debit(org.id, 1);
    auto waited = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded) << r.status().to_string();
    EXPECT_LT(waited, std::chrono::seconds(5));
    PQclear(PQexec(holder, "ROLLBACK"));
    PQfinish(holder);

    auto after = store.try_debit(org.id, 1);  // the lock is gone: works again
    ASSERT_TRUE(after.is_ok()) << after.status().to_string();
    EXPECT_EQ(*after, 9);
  }
  pg_query(base, "DROP SCHEMA " + schema + " CASCADE");
}

}  // namespace
}  // namespace agentd::store
