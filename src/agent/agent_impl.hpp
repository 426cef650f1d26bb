// The running agent: config -> serf::Node on a net::Driver, the RPC server (AgentApi), the
// event-handler dispatcher, the snapshot/keyring/tags files, signals and sd_notify, all on one
// asio io_context. Private to src/agent.
#pragma once

#include <asio.hpp>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "agent_mdns.hpp"
#include "clusterd/agent/handlers.hpp"
#include "clusterd/agent/log.hpp"
#include "clusterd/agent/process_runner.hpp"
#include "clusterd/agent/state_files.hpp"
#include "clusterd/config/config.hpp"
#include "clusterd/discovery/registry.hpp"
#include "clusterd/net/driver.hpp"
#include "clusterd/rpc/agent_api.hpp"
#include "clusterd/rpc/server.hpp"
#include "clusterd/serf/node.hpp"
#include "clusterd/wire/envelope.hpp"

namespace clusterd::agent {

struct AgentMetrics; // agent_metrics.cpp

/// The wall clock as an Instant since the Unix epoch: datastore rows are shared between hosts,
/// so their times are wall-clock times (the gossip timers use the driver's monotonic clock).
inline base::Instant wall_now() {
    return base::Instant{
        std::chrono::duration_cast<base::Duration>(std::chrono::system_clock::now().time_since_epoch())};
}

/// serf::KeyringPort over the wire::Keyring the driver encrypts with; persists the keyring file.
class AgentKeyring final : public serf::KeyringPort {
  public:
    wire::Keyring ring;
    std::string file;                  ///< keyring_file ("" = none)
    std::optional<PendingFile> writer; ///< keeps a keyring it could not write, for retries
    bool enabled() const override { return !ring.empty(); }
    base::Status install(const base::Bytes& key) override { return ring.install(key); }
    base::Status use(const base::Bytes& key) override { return ring.use(key); }
    base::Status remove(const base::Bytes& key) override { return ring.remove(key); }
    std::vector<base::Bytes> keys() const override { return ring.keys(); }
    base::Bytes primary() const override { return ring.primary() ? *ring.primary() : base::Bytes{}; }
    base::Status persist() override;
};

class HttpApi; // agent_http.cpp

class Agent final : public rpc::AgentApi {
  public:
    Agent(asio::io_context& io, config::Config cfg, LogHub& log);
    ~Agent() override;

    /// Builds everything and starts listening; errors are fatal for the agent.
    base::Status start();
    /// Exit code once io.run() returns.
    int exit_code() const { return exit_code_; }
    /// Where the config came from, for SIGHUP reloads.
    void set_reload_source(std::string path, config::FlagValues flags) {
        config_path_ = std::move(path);
        flags_ = std::move(flags);
    }

    /// The metrics in Prometheus text format 0.0.4, or OpenMetrics 1.0 (docs/metrics.md); for the
    /// HTTP listener's /metrics. Call on the io_context's thread.
    std::string metrics_text(bool openmetrics);

    // ---- rpc::AgentApi ---------------------------------------------------------------------
    std::vector<rpc::Member> members() override;
    std::uint64_t members_version() override;
    void join(const std::vector<std::string>& addrs, bool replay,
              std::function<void(int, const std::string&)> done) override;
    void leave(rpc::ErrorCallback done) override;
    void shutdown() override;
    void force_leave(const std::string& node, bool prune, rpc::ErrorCallback done) override;
    void user_event(const std::string& name, const base::Bytes& payload, bool coalesce,
                    rpc::ErrorCallback done) override;
    void set_tags(const rpc::Tags& set, const std::vector<std::string>& remove,
                  rpc::ErrorCallback done) override;
    std::string query(const rpc::QueryParams& params, rpc::QueryCallbacks callbacks,
                      rpc::SubscriptionId& id) override;
    void cancel_query(rpc::SubscriptionId id) override;
    std::string respond(std::uint64_t token, const base::Bytes& payload) override;
    void install_key(const std::string& key, std::function<void(const rpc::KeyResponse&)> done) override;
    void use_key(const std::string& key, std::function<void(const rpc::KeyResponse&)> done) override;
    void remove_key(const std::string& key, std::function<void(const rpc::KeyResponse&)> done) override;
    void list_keys(std::function<void(const rpc::KeyResponse&)> done) override;
    std::map<std::string, std::map<std::string, std::string>> stats() override;
    std::optional<rpc::Coordinate> get_coordinate(const std::string& node) override;
    rpc::SubscriptionId subscribe_events(std::function<void(const rpc::Event&)> cb) override;
    rpc::SubscriptionId subscribe_logs(std::function<void(const std::string&)> cb) override;
    void unsubscribe(rpc::SubscriptionId id) override;
    void store_list(std::function<void(const std::string&, const rpc::StoreListing&)> done) override;

  private:
    // setup (agent.cpp)
    base::Status setup_keyring();
    base::Status setup_snapshot(std::optional<serf::SnapshotState>& restored, std::size_t& size);
    base::Result<serf::Config> serf_config();
    void start_joins();
    void retry_join_tick();
    void handle_signal(int sig);
    void begin_shutdown(bool graceful, int code);
    void finish_shutdown();
    /// With WatchdogSec= in the unit ($WATCHDOG_USEC): sends WATCHDOG=1 from the event loop every
    /// half interval, so a stuck loop is what systemd sees and restarts.
    void start_watchdog();
    void watchdog_tick();
    void reload();
    // metrics (agent_metrics.cpp)
    void start_metrics();
    void metrics_tick();
    void collect_metrics();
    void stop_metrics();
    void dump_metrics(); ///< SIGUSR1
    // events (agent_events.cpp)
    void after_activity();
    void on_event(const serf::Event& e);
    void on_query_update(const serf::QueryUpdate& u);
    void on_join_result(const serf::JoinResult& r);
    void write_snapshot();
    /// Writes again what a full or failing disk refused (snapshot, keyring), at most once a
    /// second; logs each change of state once.
    void retry_state_files();
    // HTTP listener (agent_http.cpp): off unless http_addr is set
    base::Status check_http() const; ///< before anything starts: address and token rule
    base::Status start_http();
    void stop_http();
    /// The listener's counters for the `stats` RPC's network section (nothing when it is off).
    void http_stats(std::map<std::string, std::string>& out) const;
    // datastore discovery (agent_discovery.cpp)
    /// Opens the datastore adapter (before anything listens, so a bad datastore fails fast).
    base::Status open_datastore();
    /// Registers and starts joining from the store (once the node runs).
    void start_discovery();
    /// Feeds membership and time to the registry, runs its store requests and joins, logs its
    /// lines and re-arms its timer. Safe to call at any time.
    void pump_discovery();
    void discovery_leave();
    // mDNS discovery, Serf's -discover (agent_mdns.cpp)
    void start_mdns();
    void stop_mdns();
    void start_discovery_join(const discovery::JoinRequest& j);
    std::vector<discovery::MemberView> member_views() const;
    void key_op(serf::KeyOp op, const std::string& key, std::function<void(const rpc::KeyResponse&)> done);
    /// The seeds of a join: every address of every entry ("host[:port]", "name/host[:port]").
    /// A host name contributes all its addresses (each is tried, as Serf does); an entry that
    /// cannot be resolved is reported in `errors` and does not stop the others.
    struct Seeds {
        std::vector<swim::Address> addrs;
        std::map<swim::Address, std::size_t> entry_of; ///< seed -> index of its entry
        std::vector<std::string> errors;               ///< one per entry that gave no address
    };
    /// An error only when no entry gave an address.
    base::Result<Seeds> resolve(const std::vector<std::string>& addrs);
    /// Starts a join through `seeds` (honouring replay_on_join) and records it in joins_;
    /// returns its id, or why it could not start.
    base::Result<std::uint64_t> start_join_with(const Seeds& seeds);

    asio::io_context& io_;
    config::Config cfg_;
    std::string config_path_;
    config::FlagValues flags_;
    LogHub& log_;
    AgentKeyring keyring_;
    std::unique_ptr<serf::Node> node_;
    /// members_version(): the number handed out for node_'s members generation (0: none yet;
    /// reset with node_).
    std::uint64_t members_version_ = 0;
    std::uint64_t members_version_generation_ = 0;
    std::unique_ptr<net::HostAdapter<serf::Node>> host_;
    std::unique_ptr<net::Driver> driver_;
    std::unique_ptr<rpc::Server> rpc_;
    std::unique_ptr<ProcessRunner> runner_;
    std::unique_ptr<HandlerDispatcher> dispatcher_;
    asio::signal_set signals_;
    asio::steady_timer retry_timer_;
    asio::steady_timer shutdown_timer_;
    asio::steady_timer discovery_timer_;
    asio::steady_timer watchdog_timer_;
    std::chrono::microseconds watchdog_period_{0};
    std::unique_ptr<discovery::Store> store_; ///< null without a datastore
    std::unique_ptr<discovery::Registry> registry_;
    std::shared_ptr<AgentMetrics> metrics_;
    std::string datastore_shown_;    ///< the datastore URL without credentials
    std::unique_ptr<MdnsEdge> mdns_; ///< null without -discover
    bool pumping_discovery_ = false;
    /// Completions (store answers, timer) hold a weak_ptr to this: skipped once the agent is gone.
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);

    int snapshot_fd_ = -1;
    bool snapshot_failing_ = false; ///< a write failed: the next success is a full compaction
    std::size_t snapshot_failed_writes_ = 0;
    base::Instant last_state_retry_{};
    std::string bind_host_;
    int bind_port_ = 7946;
    std::string advertise_host_;
    int advertise_port_ = 7946;

    struct PendingJoin {
        std::function<void(int, const std::string&)> done; ///< null for start/retry joins
        int ok = 0; ///< entries with at least one address that answered
        std::map<swim::Address, std::size_t> entry_of;
        std::set<std::size_t> ok_entries;
        std::string last_error;
        bool start_join = false;
        bool retry_join = false;
        std::uint64_t discovery_id = 0; ///< a join the registry asked for (0 = none)
    };
    std::map<std::uint64_t, PendingJoin> joins_;
    int retry_attempts_ = 0;

    std::map<std::uint64_t, rpc::QueryCallbacks> rpc_queries_;   ///< node query handle -> callbacks
    std::map<rpc::SubscriptionId, std::uint64_t> rpc_query_ids_; ///< subscription -> handle
    std::map<std::uint64_t, std::function<void(const rpc::KeyResponse&)>> key_ops_;
    std::map<std::uint64_t, serf::QueryEvent> inbound_queries_; ///< token -> query to respond to
    std::uint64_t next_token_ = 1;
    std::map<rpc::SubscriptionId, std::function<void(const rpc::Event&)>> event_subs_;
    std::map<rpc::SubscriptionId, int> log_subs_; ///< subscription -> LogHub id
    rpc::SubscriptionId next_sub_ = 1;
    std::vector<rpc::ErrorCallback> leave_waiters_;

    bool shutting_down_ = false;
    bool leaving_ = false;
    int signals_seen_ = 0;
    int exit_code_ = 0;

    friend class HttpApi;
    /// Declared last: destroyed first, while the event subscriptions its streams end still exist.
    std::shared_ptr<HttpApi> http_;
};

} // namespace clusterd::agent
