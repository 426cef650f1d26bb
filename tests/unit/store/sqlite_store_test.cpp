// The SQLite adapter against real database files: schema and version, WAL, file mode,
// register/conflict/list/delete/prune, many connections writing and pruning at once, a store
// that is down and comes back, and the datastore URL (credentials redacted).
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <thread>

#include "clusterd/store/store.hpp"
#include "support/asio_pump.hpp"

namespace clusterd::store {
namespace {

using namespace std::chrono_literals;
using discovery::Row;
using discovery::StoreResult;

base::Instant t0() {
    return base::Instant{std::chrono::milliseconds(1'700'000'000'000LL)};
}

Row row_of(const std::string& name, const std::string& addr, base::Instant seen, base::Duration ttl = 3600s) {
    return Row{name, addr, 2, 5, seen, seen, seen + ttl};
}

class TempDir {
  public:
    TempDir() {
        char tmpl[] = "/tmp/clusterd-sqlite-XXXXXX";
        path_ = ::mkdtemp(tmpl);
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

/// Runs one store call to completion on `io` (bounded wait).
template <typename Call> StoreResult run(asio::io_context& io, Call call) {
    std::optional<StoreResult> out;
    call([&](StoreResult r) { out = std::move(r); });
    io.restart();
    clusterd::testing::pump_until(
        io, [&] { return out.has_value(); }, 20s);
    EXPECT_TRUE(out.has_value()) << "store did not answer within 20 s";
    return out ? std::move(*out) : StoreResult{};
}

std::string query_one(const std::string& db, const std::string& sql) {
    sqlite3* h = nullptr;
    EXPECT_EQ(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    std::string out;
    if (sqlite3_prepare_v2(h, sql.c_str(), -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    sqlite3_close(h);
    return out;
}

void exec(const std::string& db, const std::string& sql) {
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(h);
}

TEST(SqliteStore, CreatesVersionedSchemaInWalModeWithMode0600) {
    TempDir dir;
    const std::string db = dir.path() + "/nodes.db";
    asio::io_context io;
    ::umask(022);
    auto store = make_sqlite_store(io, db);
    EXPECT_EQ(store->describe(), "sqlite:" + db);
    auto r = run(io, [&](auto done) { store->register_row(row_of("a", "10.0.0.1:7946", t0()), t0(), done); });
    ASSERT_TRUE(r.status) << r.status.error().message;
    struct stat st {};
    ASSERT_EQ(::stat(db.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(query_one(db, "PRAGMA journal_mode"), "wal");
    EXPECT_EQ(query_one(db, "SELECT value FROM clusterd_meta WHERE key = 'schema_version'"), "1");
    EXPECT_EQ(query_one(db, "SELECT address FROM clusterd_nodes WHERE name = 'a'"), "10.0.0.1:7946");
    EXPECT_EQ(query_one(db, "SELECT expires_ms FROM clusterd_nodes WHERE name = 'a'"),
              std::to_string(discovery::to_ms(t0() + 3600s)));
}

TEST(SqliteStore, RefusesAnotherSchemaVersion) {
    TempDir dir;
    const std::string db = dir.path() + "/nodes.db";
    exec(db, "CREATE TABLE clusterd_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
             "INSERT INTO clusterd_meta VALUES ('schema_version', '9');");
    asio::io_context io;
    auto store = make_sqlite_store(io, db);
    auto r = run(io, [&](auto done) { store->list(done); });
    ASSERT_FALSE(r.status);
    EXPECT_NE(r.status.error().message.find("schema version '9'"), std::string::npos)
        << r.status.error().message;
}

TEST(SqliteStore, RegisterRefreshConflictListDeletePrune) {
    TempDir dir;
    const std::string db = dir.path() + "/nodes.db";
    asio::io_context io;
    auto store = make_sqlite_store(io, db);
    ASSERT_TRUE(
        run(io, [&](auto d) { store->register_row(row_of("a", "10.0.0.1:7946", t0()), t0(), d); }).status);
    // A refresh keeps `created`.
    Row refreshed = row_of("a", "10.0.0.1:7946", t0() + 30s);
    ASSERT_TRUE(run(io, [&](auto d) { store->register_row(refreshed, t0() + 30s, d); }).status);
    // Another address under the same live name: a conflict, the row untouched.
    auto c = run(
        io, [&](auto d) { store->register_row(row_of("a", "10.0.0.9:7946", t0() + 31s), t0() + 31s, d); });
    ASSERT_TRUE(c.status);
    EXPECT_TRUE(c.conflict);
    EXPECT_EQ(c.conflict_address, "10.0.0.1:7946");
    ASSERT_TRUE(run(io, [&](auto d) {
                    store->register_row(row_of("b", "10.0.0.2:7946", t0(), 60s), t0(), d);
                }).status);
    exec(db, "INSERT INTO clusterd_nodes VALUES ('junk', 'x', 'y', 2, 'z', 1, 'never')");

    auto l = run(io, [&](auto d) { store->list(d); });
    ASSERT_TRUE(l.status);
    ASSERT_EQ(l.rows.size(), 3u);
    std::map<std::string, discovery::StoredRow> by;
    for (const auto& r : l.rows)
        by[r.name] = r;
    auto a = discovery::parse_row(by.at("a"));
    ASSERT_TRUE(a);
    EXPECT_EQ(a->created, t0());
    EXPECT_EQ(a->last_seen, t0() + 30s);
    EXPECT_EQ(a->address, "10.0.0.1:7946");
    EXPECT_FALSE(discovery::parse_row(by.at("junk")));
    EXPECT_EQ(by.at("junk").expires_ms, "never");

    // b expired at t0+60s: pruned; junk (not a time) and a stay.
    ASSERT_TRUE(run(io, [&](auto d) { store->prune(t0() + 61s, d); }).status);
    l = run(io, [&](auto d) { store->list(d); });
    ASSERT_EQ(l.rows.size(), 2u);
    // Once a's row expired, another address may take the name.
    auto take = run(io, [&](auto d) {
        store->register_row(row_of("a", "10.0.0.9:7946", t0() + 4000s), t0() + 4000s, d);
    });
    ASSERT_TRUE(take.status);
    EXPECT_FALSE(take.conflict);
    EXPECT_EQ(query_one(db, "SELECT created_ms FROM clusterd_nodes WHERE name = 'a'"),
              std::to_string(discovery::to_ms(t0() + 4000s)));
    // Delete honours the address; "" deletes whatever is there.
    ASSERT_TRUE(run(io, [&](auto d) { store->remove("a", "10.0.0.1:7946", d); }).status);
    EXPECT_EQ(run(io, [&](auto d) { store->list(d); }).rows.size(), 2u);
    ASSERT_TRUE(run(io, [&](auto d) { store->remove("a", "", d); }).status);
    ASSERT_TRUE(run(io, [&](auto d) { store->remove("junk", "", d); }).status);
    EXPECT_TRUE(run(io, [&](auto d) { store->list(d); }).rows.empty());
}

TEST(SqliteStore, ManyNodesRegisterAndPruneConcurrently) {
    TempDir dir;
    const std::string db = dir.path() + "/nodes.db";
    constexpr int kNodes = 16;
    constexpr int kRounds = 20;
    std::vector<std::thread> threads;
    std::atomic<int> errors{0};
    for (int n = 0; n < kNodes; ++n) {
        threads.emplace_back([&, n] {
            asio::io_context io;
            auto store = make_sqlite_store(io, db);
            const std::string name = "node-" + std::to_string(n);
            const std::string addr = "10.0." + std::to_string(n) + ".1:7946";
            for (int i = 0; i < kRounds; ++i) {
                const auto now = t0() + std::chrono::seconds(i);
                // Each node also writes a short-lived row that everyone races to prune.
                for (auto& r :
                     {run(io, [&](auto d) { store->register_row(row_of(name, addr, now), now, d); }),
                      run(io,
                          [&](auto d) {
                              store->register_row(row_of(name + "-tmp" + std::to_string(i), addr, now, 1s),
                                                  now, d);
                          }),
                      run(io, [&](auto d) { store->prune(now + 2s, d); }),
                      run(io, [&](auto d) { store->list(d); })})
                    if (!r.status || r.conflict)
                        ++errors;
            }
        });
    }
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(errors.load(), 0);
    asio::io_context io;
    auto store = make_sqlite_store(io, db);
    auto l = run(io, [&](auto d) { store->list(d); });
    ASSERT_TRUE(l.status);
    EXPECT_EQ(l.rows.size(), static_cast<std::size_t>(kNodes))
        << "every node once, every short-lived row pruned";
}

TEST(SqliteStore, DownWhileTheFileCannotBeOpenedUpWhenItCan) {
    TempDir dir;
    const std::string sub = dir.path() + "/later";
    const std::string db = sub + "/nodes.db";
    asio::io_context io;
    auto store = make_sqlite_store(io, db);
    auto r = run(io, [&](auto d) { store->list(d); });
    ASSERT_FALSE(r.status);
    EXPECT_NE(r.status.error().message.find("cannot open"), std::string::npos) << r.status.error().message;
    ASSERT_TRUE(std::filesystem::create_directory(sub));
    r = run(io, [&](auto d) { store->list(d); });
    EXPECT_TRUE(r.status) << r.status.error().message;
}

TEST(SqliteStore, QueuedWorkFinishesWhenTheStoreIsDestroyed) {
    TempDir dir;
    const std::string db = dir.path() + "/nodes.db";
    {
        asio::io_context io;
        auto store = make_sqlite_store(io, db);
        store->register_row(row_of("a", "10.0.0.1:7946", t0()), t0(), [](StoreResult) {});
        store->remove("a", "10.0.0.1:7946", [](StoreResult) {});
        store->register_row(row_of("b", "10.0.0.2:7946", t0()), t0(), [](StoreResult) {});
    } // destroyed without running io: the queue still drains (a leave's delete is not lost)
    EXPECT_EQ(query_one(db, "SELECT count(*) FROM clusterd_nodes"), "1");
    EXPECT_EQ(query_one(db, "SELECT name FROM clusterd_nodes"), "b");
}

TEST(DatastoreUrl, ParsesAndRedacts) {
    auto s = parse_datastore_url("sqlite:/var/lib/clusterd/nodes.db");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->kind, DatastoreUrl::Kind::Sqlite);
    EXPECT_EQ(s->path, "/var/lib/clusterd/nodes.db");
    auto s2 = parse_datastore_url("sqlite://rel/nodes.db");
    ASSERT_TRUE(s2);
    EXPECT_EQ(s2->path, "rel/nodes.db");
    EXPECT_FALSE(parse_datastore_url("sqlite:"));
    auto bad = parse_datastore_url("mysql://root:hunter2@db/kong");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message.find("hunter2"), std::string::npos) << bad.error().message;

    auto pg =
        parse_datastore_url("postgres://kong:s3cret@db.example:5432/kong?sslmode=require&password=other");
    ASSERT_TRUE(pg);
    EXPECT_EQ(pg->kind, DatastoreUrl::Kind::Postgres);
    EXPECT_EQ(pg->redacted.find("s3cret"), std::string::npos) << pg->redacted;
    EXPECT_EQ(pg->redacted.find("other"), std::string::npos) << pg->redacted;
    EXPECT_NE(pg->redacted.find("kong:***@db.example:5432/kong"), std::string::npos) << pg->redacted;
    asio::io_context io;
    auto opened = open_store(io, *pg);
    ASSERT_TRUE(opened);
    EXPECT_EQ((*opened)->describe().find("s3cret"), std::string::npos) << (*opened)->describe();
    auto etcd = parse_datastore_url("etcd://127.0.0.1:2379,127.0.0.2:2379/clusterd");
    ASSERT_TRUE(etcd);
    EXPECT_EQ(etcd->kind, DatastoreUrl::Kind::Etcd);
    auto etcd_store = open_store(io, *etcd); // the adapter connects on first use
    ASSERT_TRUE(etcd_store) << etcd_store.error().message;
    EXPECT_EQ((*etcd_store)->describe(), "etcd://127.0.0.1:2379,127.0.0.2:2379/clusterd");
}

} // namespace
} // namespace clusterd::store
