// clusterd::discovery: Kong 0.x's cluster model. Every node writes a row (name, advertise
// address, protocol range, created / last-seen / expiry) into one shared store, refreshes it
// while alive, and joins the nodes it finds there. This header is the pure part: a state
// machine that decides what to write, which rows to trust, whom to join and when to retry.
// It never reads a clock, touches the store, or logs by itself: time enters as `now` (wall
// clock, since the Unix epoch, because rows are shared between hosts), randomness as a seeded
// base::Rng, store requests leave through poll_store_op() and come back through
// on_store_result(), joins leave through poll_join() and come back through on_join_result().
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "clusterd/base/result.hpp"
#include "clusterd/base/rng.hpp"
#include "clusterd/base/time.hpp"

namespace clusterd::discovery {

/// A row as a store holds it, every column as text (a store is shared and may hold anything:
/// rows written by other versions, by hand, or half-written). Times are decimal milliseconds
/// since the Unix epoch.
struct StoredRow {
    std::string name;
    std::string address; ///< "ip:port" or "[ipv6]:port"
    std::string protocol_min;
    std::string protocol_max;
    std::string created_ms;
    std::string last_seen_ms;
    std::string expires_ms;
};

/// A row that passed every check.
struct Row {
    std::string name;
    std::string address;
    int protocol_min = 0;
    int protocol_max = 0;
    base::Instant created;
    base::Instant last_seen;
    base::Instant expires;

    friend bool operator==(const Row&, const Row&) = default;
};

/// Checks a stored row: a non-empty printable name (at most 256 bytes), an "ip:port" address,
/// a protocol range 0..255 with min <= max, and created <= last_seen <= expires.
base::Result<Row> parse_row(const StoredRow& raw);
/// The row as text columns (the inverse of parse_row).
StoredRow to_stored(const Row& row);
/// Milliseconds since the epoch of a wall-clock Instant (what stores keep).
std::int64_t to_ms(base::Instant t);
base::Instant from_ms(std::int64_t ms);

enum class OpKind {
    Register, ///< insert or refresh this node's row (upsert on name; never overwrites a live row
              ///< of the same name with another address: that is a conflict)
    Delete,   ///< delete the row `name` (and `address`, when set)
    List,     ///< every row, expired ones included
    Prune,    ///< delete every row whose expiry is before `now`
};
const char* op_name(OpKind k);

/// One request to the store.
struct StoreOp {
    std::uint64_t id = 0;
    OpKind kind = OpKind::List;
    Row row;             ///< Register: the row to write (the store keeps an existing `created`)
    std::string name;    ///< Delete
    std::string address; ///< Delete: only a row with this address ("" = any)
    base::Instant now;   ///< Register/Prune: the time rows expire against
};

/// What the store answered.
struct StoreResult {
    std::uint64_t id = 0;
    base::Status status = base::ok_status(); ///< an error = the store could not be used
    std::vector<StoredRow> rows;             ///< List
    bool conflict = false;                   ///< Register: a live row with this name has another address
    std::string conflict_address;
};

/// The storage backend. Every call returns at once; `done` runs later on the caller's event
/// loop (never inside the call). Adapters: sqlite (src/discovery/sqlite_store.cpp).
class Store {
  public:
    using Done = std::function<void(StoreResult)>;
    virtual ~Store() = default;
    /// The store as it may be shown to users (no credentials).
    virtual std::string describe() const = 0;
    virtual void register_row(const Row& row, base::Instant now, Done done) = 0;
    virtual void list(Done done) = 0;
    virtual void remove(const std::string& name, const std::string& address, Done done) = 0;
    virtual void prune(base::Instant now, Done done) = 0;
    /// Runs one StoreOp through the matching call, tagging the result with the op's id.
    void execute(const StoreOp& op, Done done);
};

/// A member as the cluster sees it.
struct MemberView {
    enum class Status { Alive, Leaving, Left, Failed };
    std::string name;
    std::string address; ///< same "ip:port" form as rows
    Status status = Status::Alive;
};

struct JoinRequest {
    std::uint64_t id = 0;
    std::vector<std::string> addresses; ///< "ip:port", newest row first
    std::vector<std::string> names;
};

struct LogLine {
    enum class Level { Debug, Info, Warn, Error };
    Level level = Level::Info;
    std::string text;
};

struct Options {
    std::string name;     ///< this node's name
    std::string address;  ///< this node's advertise address, "ip:port"
    int protocol_min = 2; ///< Serf protocol range this node speaks
    int protocol_max = 5;
    base::Duration ttl = std::chrono::seconds(3600);   ///< ttl_on_failure: row expiry after the last refresh
    base::Duration refresh = std::chrono::seconds(30); ///< refresh cadence (< ttl / 2)
    std::size_t join_batch = 3;                        ///< addresses per join attempt
    base::Duration join_retry_min = std::chrono::seconds(2);   ///< first re-list while rows are unjoined
    base::Duration join_retry_max = std::chrono::seconds(30);  ///< backoff cap
    base::Duration store_retry_min = std::chrono::seconds(1);  ///< first retry after a store error
    base::Duration store_retry_max = std::chrono::seconds(30); ///< backoff cap (also capped by `refresh`)
};

/// Whether the store answered the last request.
enum class StoreState { Unknown, Up, Down };
const char* state_name(StoreState s);

struct Status {
    StoreState state = StoreState::Unknown;
    std::string last_error;
    bool registered = false;
    bool conflict = false;
    std::size_t live_rows = 0;  ///< valid, unexpired rows in the last list (this node included)
    std::size_t candidates = 0; ///< rows of nodes not in the cluster at the last list
    std::uint64_t joins_started = 0;
    std::uint64_t rows_skipped = 0; ///< corrupt or incompatible rows seen (each warned about once)
    base::Instant last_ok;          ///< last successful store answer (zero = never)
};

class Registry {
  public:
    Registry(Options opts, std::uint64_t seed);

    /// Register, then list and join. Call once.
    void start(base::Instant now);
    /// Graceful leave: everything queued is dropped and this node's row is deleted.
    void leave(base::Instant now);
    /// `force-leave -prune NAME`: delete that node's row.
    void forget(const std::string& name);
    /// The cluster's member list (the registry remembers when each member was first seen failed
    /// or left). Call whenever membership may have changed, and before on_store_result.
    void observe_members(const std::vector<MemberView>& members, base::Instant now);

    std::optional<StoreOp> poll_store_op(base::Instant now);
    void on_store_result(const StoreResult& r, base::Instant now);
    std::optional<JoinRequest> poll_join();
    /// `joined`: how many addresses of the request answered.
    void on_join_result(std::uint64_t id, int joined, base::Instant now);
    std::optional<LogLine> poll_log();

    /// Timers: the earliest time tick() has work; Instant::max() when none.
    base::Instant next_deadline() const;
    void tick(base::Instant now);

    const Status& status() const { return status_; }
    /// True once leave() was called and its delete has been answered.
    bool leave_done() const { return leaving_ && !op_in_flight_ && ops_.empty(); }
    const Options& options() const { return opts_; }
    /// Valid rows of the last list, newest first (for `store list`).
    const std::vector<Row>& last_rows() const { return rows_; }

  private:
    void queue(StoreOp op);
    void refresh_cycle(base::Instant now);
    void handle_list(const std::vector<StoredRow>& rows, base::Instant now);
    void plan_joins(base::Instant now);
    void next_join_batch(base::Instant now);
    void store_failed(const base::Error& e, base::Instant now);
    void note_conflict(const std::string& address);
    void store_ok(base::Instant now);
    Row own_row(base::Instant now) const;
    base::Duration jitter(base::Duration d);
    void log(LogLine::Level lv, std::string text);

    Options opts_;
    base::Rng rng_;
    Status status_;
    bool started_ = false;
    bool leaving_ = false;
    base::Instant created_;

    std::deque<StoreOp> ops_;
    bool op_in_flight_ = false;
    std::uint64_t in_flight_id_ = 0;
    OpKind in_flight_kind_ = OpKind::List;
    std::uint64_t next_id_ = 1;

    // timers
    base::Instant next_refresh_ = base::Instant::max(); ///< register + list
    base::Instant next_relist_ = base::Instant::max();  ///< join retry while rows are unjoined
    base::Duration join_backoff_{0};
    base::Duration store_backoff_{0};

    // membership
    std::map<std::string, MemberView> members_;
    std::map<std::string, base::Instant> gone_since_; ///< first seen failed/left

    // the last list
    std::vector<Row> rows_;
    std::vector<Row> pending_; ///< candidates not yet tried in this join round
    std::optional<JoinRequest> join_out_;
    std::uint64_t join_in_flight_ = 0; ///< 0 = none
    std::set<std::string> warned_;     ///< rows already warned about (by content)
    std::string conflict_logged_;      ///< the conflicting address last logged ("" = none)

    std::deque<LogLine> logs_;
};

} // namespace clusterd::discovery
