// The SQLite datastore adapter: a Backend run by WorkerStore's thread (worker_store.hpp), so
// the event loop never waits for the file system or for another process holding the lock.
//
// Schema (version 1, created on first use inside one IMMEDIATE transaction, so many nodes
// starting at once create it exactly once):
//   clusterd_meta(key TEXT PRIMARY KEY, value TEXT)          -- ('schema_version', '1')
//   clusterd_nodes(name TEXT PRIMARY KEY, address, protocol_min, protocol_max,
//                  created_ms, last_seen_ms, expires_ms)      -- times: ms since the epoch
#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "clusterd/store/store.hpp"
#include "worker_store.hpp"

namespace clusterd::store {
namespace {

using discovery::StoreResult;

constexpr int kBusyTimeoutMs = 5000;

class Db final : public Backend {
  public:
    explicit Db(std::string path) : path_(std::move(path)) {}
    ~Db() override { close(); }
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;

    void close() {
        if (db_ != nullptr)
            sqlite3_close_v2(db_);
        db_ = nullptr;
    }

    base::Status open() {
        if (db_ != nullptr)
            return base::ok_status();
        // Create the file with mode 0600 before SQLite does (SQLite would use 0644); the -wal
        // and -shm files SQLite makes next to it take the same mode.
        const int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
            return fail_errno("cannot open " + path_);
        ::close(fd);
        if (sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) !=
            SQLITE_OK) {
            auto e = error("cannot open " + path_);
            close();
            return e;
        }
        sqlite3_busy_timeout(db_, kBusyTimeoutMs);
        if (auto st = exec("PRAGMA journal_mode=WAL"); !st)
            return reset(st);
        if (auto st = exec("PRAGMA synchronous=NORMAL"); !st)
            return reset(st);
        if (auto st = schema(); !st)
            return reset(st);
        return base::ok_status();
    }

    /// Runs `fn` on an open connection; on an error the connection is closed so that the next
    /// request opens it afresh (the file may have been replaced or its directory remounted).
    template <typename Fn> StoreResult run(Fn&& fn) {
        StoreResult r;
        if (auto st = open(); !st) {
            r.status = st.error();
            return r;
        }
        r = fn();
        if (!r.status) {
            exec("ROLLBACK").ok();
            close();
        }
        return r;
    }

    StoreResult register_row(const discovery::Row& row, base::Instant now) override {
        return run([&] {
            StoreResult r;
            if (auto st = exec("BEGIN IMMEDIATE"); !st)
                return failed(st);
            auto sel =
                prepare("SELECT address, expires_ms, typeof(expires_ms) FROM clusterd_nodes WHERE name = ?1");
            if (!sel)
                return failed(sel.error());
            sqlite3_bind_text(sel->get(), 1, row.name.c_str(), static_cast<int>(row.name.size()),
                              SQLITE_TRANSIENT);
            int rc = sqlite3_step(sel->get());
            if (rc == SQLITE_ROW) {
                const std::string addr = text(sel->get(), 0);
                const bool live = std::string(text(sel->get(), 2)) == "integer" &&
                                  sqlite3_column_int64(sel->get(), 1) > discovery::to_ms(now);
                if (live && addr != row.address) {
                    exec("ROLLBACK").ok();
                    r.conflict = true;
                    r.conflict_address = addr;
                    return r;
                }
            } else if (rc != SQLITE_DONE) {
                return failed(error("reading the node row"));
            }
            sel->reset();
            auto up =
                prepare("INSERT INTO clusterd_nodes(name, address, protocol_min, protocol_max, created_ms, "
                        "last_seen_ms, "
                        "expires_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(name) DO UPDATE SET "
                        "created_ms = CASE WHEN clusterd_nodes.address = excluded.address "
                        "AND typeof(clusterd_nodes.created_ms) = 'integer' THEN clusterd_nodes.created_ms "
                        "ELSE excluded.created_ms END, address = excluded.address, protocol_min = "
                        "excluded.protocol_min, "
                        "protocol_max = excluded.protocol_max, last_seen_ms = excluded.last_seen_ms, "
                        "expires_ms = excluded.expires_ms");
            if (!up)
                return failed(up.error());
            sqlite3_stmt* s = up->get();
            sqlite3_bind_text(s, 1, row.name.c_str(), static_cast<int>(row.name.size()), SQLITE_TRANSIENT);
            sqlite3_bind_text(s, 2, row.address.c_str(), static_cast<int>(row.address.size()),
                              SQLITE_TRANSIENT);
            sqlite3_bind_int(s, 3, row.protocol_min);
            sqlite3_bind_int(s, 4, row.protocol_max);
            sqlite3_bind_int64(s, 5, discovery::to_ms(row.created));
            sqlite3_bind_int64(s, 6, discovery::to_ms(row.last_seen));
            sqlite3_bind_int64(s, 7, discovery::to_ms(row.expires));
            if (sqlite3_step(s) != SQLITE_DONE)
                return failed(error("writing the node row"));
            up->reset();
            if (auto st = exec("COMMIT"); !st)
                return failed(st);
            return r;
        });
    }

    StoreResult list() override {
        return run([&] {
            StoreResult r;
            auto sel = prepare(
                "SELECT name, address, protocol_min, protocol_max, created_ms, last_seen_ms, expires_ms "
                "FROM clusterd_nodes");
            if (!sel)
                return failed(sel.error());
            int rc = 0;
            while ((rc = sqlite3_step(sel->get())) == SQLITE_ROW) {
                discovery::StoredRow row;
                std::string* cols[] = {&row.name,         &row.address,    &row.protocol_min,
                                       &row.protocol_max, &row.created_ms, &row.last_seen_ms,
                                       &row.expires_ms};
                for (int i = 0; i < 7; ++i)
                    *cols[i] = text(sel->get(), i);
                r.rows.push_back(std::move(row));
            }
            if (rc != SQLITE_DONE)
                return failed(error("listing nodes"));
            return r;
        });
    }

    StoreResult remove(const std::string& name, const std::string& address) override {
        return run([&] {
            auto del = prepare("DELETE FROM clusterd_nodes WHERE name = ?1 AND (?2 = '' OR address = ?2)");
            if (!del)
                return failed(del.error());
            sqlite3_bind_text(del->get(), 1, name.c_str(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
            sqlite3_bind_text(del->get(), 2, address.c_str(), static_cast<int>(address.size()),
                              SQLITE_TRANSIENT);
            if (sqlite3_step(del->get()) != SQLITE_DONE)
                return failed(error("deleting a node row"));
            return StoreResult{};
        });
    }

    StoreResult prune(base::Instant now) override {
        // One statement, so nodes pruning at the same moment each delete what is still there;
        // a row refreshed in between is no longer expired and stays.
        return run([&] {
            auto del = prepare(
                "DELETE FROM clusterd_nodes WHERE typeof(expires_ms) = 'integer' AND expires_ms <= ?1");
            if (!del)
                return failed(del.error());
            sqlite3_bind_int64(del->get(), 1, discovery::to_ms(now));
            if (sqlite3_step(del->get()) != SQLITE_DONE)
                return failed(error("pruning expired rows"));
            return StoreResult{};
        });
    }

  private:
    struct Stmt {
        sqlite3_stmt* s = nullptr;
        explicit Stmt(sqlite3_stmt* st) : s(st) {}
        Stmt(Stmt&& o) noexcept : s(o.s) { o.s = nullptr; }
        Stmt(const Stmt&) = delete;
        Stmt& operator=(const Stmt&) = delete;
        Stmt& operator=(Stmt&&) = delete;
        ~Stmt() { reset(); }
        sqlite3_stmt* get() const { return s; }
        void reset() {
            if (s != nullptr)
                sqlite3_finalize(s);
            s = nullptr;
        }
    };

    static std::string text(sqlite3_stmt* s, int col) {
        const auto* p = sqlite3_column_text(s, col);
        return p == nullptr ? std::string()
                            : std::string(reinterpret_cast<const char*>(p),
                                          static_cast<std::size_t>(sqlite3_column_bytes(s, col)));
    }

    static StoreResult failed(const base::Status& st) { return failed(st.error()); }
    static StoreResult failed(const base::Error& e) {
        StoreResult r;
        r.status = e;
        return r;
    }

    base::Error error(const std::string& what) const {
        const char* msg = db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory";
        return base::make_error("datastore", "sqlite " + what + ": " + msg);
    }
    base::Error fail_errno(const std::string& what) const {
        return base::make_error("datastore", "sqlite " + what + ": " + std::strerror(errno));
    }
    base::Status reset(const base::Status& st) {
        close();
        return st;
    }

    base::Status exec(const char* sql) {
        char* err = nullptr;
        if (db_ == nullptr)
            return base::make_error("datastore", "sqlite: not open");
        if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
            std::string m = err != nullptr ? err : sqlite3_errmsg(db_);
            sqlite3_free(err);
            return base::make_error("datastore", std::string("sqlite ") + sql + ": " + m);
        }
        return base::ok_status();
    }

    base::Result<Stmt> prepare(const char* sql) {
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v2(db_, sql, -1, &s, nullptr) != SQLITE_OK)
            return error("preparing a statement");
        return Stmt(s);
    }

    base::Status schema() {
        if (auto st = exec("BEGIN IMMEDIATE"); !st)
            return st;
        auto st =
            exec("CREATE TABLE IF NOT EXISTS clusterd_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                 "INSERT OR IGNORE INTO clusterd_meta(key, value) VALUES ('schema_version', '1');"
                 "CREATE TABLE IF NOT EXISTS clusterd_nodes(name TEXT PRIMARY KEY, address TEXT NOT NULL, "
                 "protocol_min INTEGER NOT NULL, protocol_max INTEGER NOT NULL, created_ms INTEGER NOT NULL, "
                 "last_seen_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL);"
                 "CREATE INDEX IF NOT EXISTS clusterd_nodes_expires ON clusterd_nodes(expires_ms);");
        if (!st) {
            exec("ROLLBACK").ok();
            return st;
        }
        auto sel = prepare("SELECT value FROM clusterd_meta WHERE key = 'schema_version'");
        if (!sel) {
            exec("ROLLBACK").ok();
            return sel.error();
        }
        std::string version = sqlite3_step(sel->get()) == SQLITE_ROW ? text(sel->get(), 0) : "";
        sel->reset();
        if (version != std::to_string(kSqliteSchemaVersion)) {
            exec("ROLLBACK").ok();
            return base::make_error("datastore", "sqlite " + path_ + ": schema version '" + version +
                                                     "' is not the one this clusterd uses (" +
                                                     std::to_string(kSqliteSchemaVersion) + ")");
        }
        return exec("COMMIT");
    }

    std::string path_;
    sqlite3* db_ = nullptr;
};

} // namespace

std::unique_ptr<discovery::Store> make_sqlite_store(asio::io_context& io, const std::string& path) {
    return std::make_unique<WorkerStore>(io, "sqlite:" + path, std::make_unique<Db>(path));
}

} // namespace clusterd::store
