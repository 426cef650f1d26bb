// The PostgreSQL datastore adapter: a Backend run by WorkerStore's thread (worker_store.hpp),
// so libpq's blocking calls never hold up the event loop. The connection is made on first use
// and again after any error (server restarted, network down); libpq takes the password from
// the URL, $PGPASSWORD or ~/.pgpass. Error texts come from libpq, which never prints a password.
//
// Schema (version 1), created on first use under a transaction-level advisory lock, so nodes
// starting at the same moment create it once:
//   clusterd_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)     -- ('schema_version', '1')
//   clusterd_nodes(name TEXT PRIMARY KEY, address TEXT, protocol_min INT, protocol_max INT,
//                  created_ms BIGINT, last_seen_ms BIGINT, expires_ms BIGINT)
#include <array>

#include "clusterd/store/store.hpp"
#include "libpq_loader.hpp"
#include "worker_store.hpp"

namespace clusterd::store {
namespace {

using discovery::StoreResult;

constexpr int kSchemaVersion = 1;
constexpr const char* kSchemaLock = "SELECT pg_advisory_xact_lock(7946014)";

class Result {
  public:
    Result(const LibPq& pq, PGresult* r) : pq_(pq), r_(r) {}
    ~Result() { pq_.clear(r_); }
    Result(const Result&) = delete;
    Result& operator=(const Result&) = delete;
    PGresult* get() const { return r_; }
    bool ok() const {
        const auto st = pq_.result_status(r_);
        return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    }
    int rows() const { return pq_.ntuples(r_); }
    const char* value(int row, int col) const { return pq_.getvalue(r_, row, col); }

  private:
    const LibPq& pq_;
    PGresult* r_;
};

class Pg final : public Backend {
  public:
    Pg(const LibPq& pq, std::string conninfo, std::string shown)
        : pq_(pq), conninfo_(std::move(conninfo)), shown_(std::move(shown)) {}
    ~Pg() override { close(); }
    Pg(const Pg&) = delete;
    Pg& operator=(const Pg&) = delete;

    StoreResult register_row(const discovery::Row& row, base::Instant now) override {
        return run([&]() -> StoreResult {
            const std::string created = std::to_string(discovery::to_ms(row.created));
            const std::string seen = std::to_string(discovery::to_ms(row.last_seen));
            const std::string expires = std::to_string(discovery::to_ms(row.expires));
            const std::string pmin = std::to_string(row.protocol_min);
            const std::string pmax = std::to_string(row.protocol_max);
            const std::string at = std::to_string(discovery::to_ms(now));
            // One statement: insert, or update a row of the same address or an expired one. No
            // row back means a live row of this name has another address: a conflict.
            Result up(
                pq_, exec("INSERT INTO clusterd_nodes(name, address, protocol_min, protocol_max, created_ms, "
                          "last_seen_ms, "
                          "expires_ms) VALUES ($1, $2, $3::int, $4::int, $5::bigint, $6::bigint, $7::bigint) "
                          "ON CONFLICT (name) DO UPDATE SET "
                          "created_ms = CASE WHEN clusterd_nodes.address = EXCLUDED.address THEN "
                          "clusterd_nodes.created_ms "
                          "ELSE EXCLUDED.created_ms END, address = EXCLUDED.address, protocol_min = "
                          "EXCLUDED.protocol_min, "
                          "protocol_max = EXCLUDED.protocol_max, last_seen_ms = EXCLUDED.last_seen_ms, "
                          "expires_ms = EXCLUDED.expires_ms "
                          "WHERE clusterd_nodes.address = EXCLUDED.address OR clusterd_nodes.expires_ms <= "
                          "$8::bigint "
                          "RETURNING name",
                          {row.name, row.address, pmin, pmax, created, seen, expires, at}));
            if (!up.ok())
                return failed("writing the node row");
            StoreResult r;
            if (up.rows() == 0) {
                Result sel(pq_, exec("SELECT address FROM clusterd_nodes WHERE name = $1", {row.name}));
                if (!sel.ok())
                    return failed("reading the node row");
                r.conflict = true;
                r.conflict_address = sel.rows() > 0 ? sel.value(0, 0) : "";
            }
            return r;
        });
    }

    StoreResult list() override {
        return run([&]() -> StoreResult {
            Result sel(pq_,
                       exec("SELECT name, address, protocol_min::text, protocol_max::text, created_ms::text, "
                            "last_seen_ms::text, expires_ms::text FROM clusterd_nodes",
                            {}));
            if (!sel.ok())
                return failed("listing nodes");
            StoreResult r;
            for (int i = 0; i < sel.rows(); ++i) {
                discovery::StoredRow row;
                std::string* cols[] = {&row.name,         &row.address,    &row.protocol_min,
                                       &row.protocol_max, &row.created_ms, &row.last_seen_ms,
                                       &row.expires_ms};
                for (int c = 0; c < 7; ++c)
                    *cols[c] = sel.value(i, c);
                r.rows.push_back(std::move(row));
            }
            return r;
        });
    }

    StoreResult remove(const std::string& name, const std::string& address) override {
        return run([&]() -> StoreResult {
            Result del(pq_, exec("DELETE FROM clusterd_nodes WHERE name = $1 AND ($2 = '' OR address = $2)",
                                 {name, address}));
            if (!del.ok())
                return failed("deleting a node row");
            return StoreResult{};
        });
    }

    StoreResult prune(base::Instant now) override {
        return run([&]() -> StoreResult {
            Result del(pq_, exec("DELETE FROM clusterd_nodes WHERE expires_ms <= $1::bigint",
                                 {std::to_string(discovery::to_ms(now))}));
            if (!del.ok())
                return failed("pruning expired rows");
            return StoreResult{};
        });
    }

  private:
    void close() {
        if (conn_ != nullptr)
            pq_.finish(conn_);
        conn_ = nullptr;
    }

    std::string last_error() const {
        std::string m = conn_ != nullptr ? pq_.error_message(conn_) : "no connection";
        while (!m.empty() && (m.back() == '\n' || m.back() == ' '))
            m.pop_back();
        for (auto& c : m)
            if (c == '\n')
                c = ' ';
        return m;
    }

    StoreResult failed(const std::string& what) {
        StoreResult r;
        r.status = base::make_error("datastore", "postgres " + what + ": " + last_error());
        failed_ = true;
        return r;
    }

    PGresult* exec(const char* sql, const std::vector<std::string>& params) {
        std::vector<const char*> values;
        values.reserve(params.size());
        for (const auto& p : params)
            values.push_back(p.c_str());
        return pq_.exec_params(conn_, sql, static_cast<int>(values.size()), nullptr,
                               values.empty() ? nullptr : values.data(), nullptr, nullptr, 0);
    }

    base::Status open() {
        if (conn_ != nullptr && pq_.status(conn_) == CONNECTION_OK)
            return base::ok_status();
        close();
        conn_ = pq_.connectdb(conninfo_.c_str());
        if (conn_ == nullptr || pq_.status(conn_) != CONNECTION_OK) {
            auto e =
                base::make_error("datastore", "postgres cannot connect to " + shown_ + ": " + last_error());
            close();
            return e;
        }
        // Schema on first use, serialised between nodes by an advisory lock.
        Result begin(pq_, exec("BEGIN", {}));
        Result lock(pq_, exec(kSchemaLock, {}));
        Result create(
            pq_,
            exec("CREATE TABLE IF NOT EXISTS clusterd_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)", {}));
        Result version_row(pq_, exec("INSERT INTO clusterd_meta(key, value) VALUES ('schema_version', $1) "
                                     "ON CONFLICT (key) DO NOTHING",
                                     {std::to_string(kSchemaVersion)}));
        Result nodes(
            pq_,
            exec("CREATE TABLE IF NOT EXISTS clusterd_nodes(name TEXT PRIMARY KEY, address TEXT NOT NULL, "
                 "protocol_min INTEGER NOT NULL, protocol_max INTEGER NOT NULL, created_ms BIGINT NOT NULL, "
                 "last_seen_ms BIGINT NOT NULL, expires_ms BIGINT NOT NULL)",
                 {}));
        Result index(
            pq_, exec("CREATE INDEX IF NOT EXISTS clusterd_nodes_expires ON clusterd_nodes(expires_ms)", {}));
        Result version(pq_, exec("SELECT value FROM clusterd_meta WHERE key = 'schema_version'", {}));
        const bool all_ok = begin.ok() && lock.ok() && create.ok() && version_row.ok() && nodes.ok() &&
                            index.ok() && version.ok();
        if (!all_ok) {
            auto e = base::make_error("datastore", "postgres creating the schema: " + last_error());
            close();
            return e;
        }
        const std::string v = version.rows() > 0 ? version.value(0, 0) : "";
        if (v != std::to_string(kSchemaVersion)) {
            Result rb(pq_, exec("ROLLBACK", {}));
            close();
            return base::make_error("datastore", "postgres " + shown_ + ": schema version '" + v +
                                                     "' is not the one this clusterd uses (" +
                                                     std::to_string(kSchemaVersion) + ")");
        }
        Result commit(pq_, exec("COMMIT", {}));
        if (!commit.ok()) {
            auto e = base::make_error("datastore", "postgres creating the schema: " + last_error());
            close();
            return e;
        }
        return base::ok_status();
    }

    template <typename Fn> StoreResult run(Fn&& fn) {
        if (auto st = open(); !st) {
            StoreResult r;
            r.status = st.error();
            return r;
        }
        failed_ = false;
        StoreResult r = fn();
        if (failed_)
            close(); // reconnect on the next request
        return r;
    }

    const LibPq& pq_;
    std::string conninfo_;
    std::string shown_;
    PGconn* conn_ = nullptr;
    bool failed_ = false;
};

} // namespace

base::Result<std::unique_ptr<discovery::Store>>
make_postgres_store(asio::io_context& io, const std::string& url, const std::string& shown) {
    auto pq = load_libpq();
    if (!pq)
        return pq.error();
    // A connect timeout unless the URL has one, so an unreachable server is "down" within 5 s.
    std::string conninfo = url;
    if (conninfo.find("connect_timeout=") == std::string::npos)
        conninfo += (conninfo.find('?') == std::string::npos ? "?" : "&") + std::string("connect_timeout=5");
    return std::unique_ptr<discovery::Store>(
        std::make_unique<WorkerStore>(io, shown, std::make_unique<Pg>(**pq, conninfo, shown)));
}

} // namespace clusterd::store
