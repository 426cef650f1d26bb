// run_agent and the Agent's setup, signals and shutdown. Events: agent_events.cpp; RPC: agent_api.cpp.
#include "clusterd/agent/agent.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include "agent_impl.hpp"
#include "clusterd/agent/node_id.hpp"
#include "clusterd/agent/sd_notify.hpp"
#include "clusterd/agent/state_files.hpp"
#include "clusterd/base/version.hpp"
#include "clusterd/net/address.hpp"

namespace clusterd::agent {
namespace {

/// Open files the agent needs besides RPC clients: gossip streams (net::DriverConfig's cap,
/// 256), handler pipes, state files, the store and HTTP clients, with room to spare.
constexpr rlim_t kFdsBesidesRpc = 1024;

/// Raises the soft open-file limit so that `rpc_cap` RPC clients fit beside everything else (Go
/// programs such as serf raise theirs to the hard limit at start; we ask only for what we use,
/// and handlers inherit it). Returns how many RPC connections fit; `note` says what happened.
std::size_t fit_open_files(std::size_t rpc_cap, std::string& note) {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return rpc_cap;
    const rlim_t want = static_cast<rlim_t>(rpc_cap) + kFdsBesidesRpc;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        const rlim_t before = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? want : std::min(want, rl.rlim_max);
        if (::setrlimit(RLIMIT_NOFILE, &rl) != 0)
            rl.rlim_cur = before;
        if (rl.rlim_cur != before)
            note = "raised the open-file limit from " + std::to_string(before) + " to " +
                   std::to_string(rl.rlim_cur);
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        const std::size_t fit = rl.rlim_cur > kFdsBesidesRpc / 2
                                    ? static_cast<std::size_t>(rl.rlim_cur - kFdsBesidesRpc / 2)
                                    : 16;
        note = "open-file limit " + std::to_string(rl.rlim_cur) + " (hard " + std::to_string(rl.rlim_max) +
               ") holds only " + std::to_string(fit) + " of rpc_max_connections " + std::to_string(rpc_cap) +
               " RPC clients; raise LimitNOFILE";
        return std::min(rpc_cap, fit);
    }
    return rpc_cap;
}

} // namespace

base::Status AgentKeyring::persist() {
    if (file.empty())
        return base::ok_status();
    // A keyring the disk refused is kept and written again by Agent::retry_state_files; the
    // file keeps its old content meanwhile (written atomically, never truncated).
    if (!writer || writer->path() != file)
        writer.emplace(file, 0600);
    return writer->write(keyring_file_text(ring.list_base64()));
}

Agent::Agent(asio::io_context& io, config::Config cfg, LogHub& log)
    : io_(io), cfg_(std::move(cfg)), log_(log), signals_(io, SIGINT, SIGTERM, SIGHUP), retry_timer_(io),
      shutdown_timer_(io), discovery_timer_(io), watchdog_timer_(io) {}

Agent::~Agent() {
    if (snapshot_fd_ >= 0) {
        ::fsync(snapshot_fd_);
        ::close(snapshot_fd_);
    }
}

base::Status Agent::setup_keyring() {
    keyring_.file = cfg_.keyring_file;
    if (!cfg_.keyring_file.empty()) {
        if (!cfg_.encrypt_key.empty()) {
            // Serf's rule: the keyring file is the source of truth once it exists.
            if (::access(cfg_.keyring_file.c_str(), F_OK) == 0)
                return base::make_error("config", "encryption key not allowed while using a keyring file (" +
                                                      cfg_.keyring_file + ")");
            auto ring = wire::Keyring::from_base64({cfg_.encrypt_key});
            if (!ring)
                return ring.error();
            keyring_.ring = std::move(*ring);
            if (auto st = keyring_.persist(); !st)
                return st.error();
            return base::ok_status();
        }
        auto keys = read_keyring_file(cfg_.keyring_file);
        if (!keys)
            return keys.error();
        auto ring = wire::Keyring::from_base64(*keys);
        if (!ring)
            return ring.error().with_prefix(cfg_.keyring_file);
        keyring_.ring = std::move(*ring);
        return base::ok_status();
    }
    if (!cfg_.encrypt_key.empty()) {
        auto ring = wire::Keyring::from_base64({cfg_.encrypt_key});
        if (!ring)
            return ring.error().with_prefix("encrypt key");
        keyring_.ring = std::move(*ring);
    }
    return base::ok_status();
}

base::Status Agent::setup_snapshot(std::optional<serf::SnapshotState>& restored, std::size_t& size) {
    if (cfg_.snapshot_path.empty())
        return base::ok_status();
    std::string text;
    {
        std::ifstream in(cfg_.snapshot_path, std::ios::binary);
        if (in) {
            std::ostringstream ss;
            ss << in.rdbuf();
            text = ss.str();
        }
    }
    restored = serf::SnapshotState::replay(text, cfg_.rejoin_after_leave);
    size = text.size();
    snapshot_fd_ = ::open(cfg_.snapshot_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (snapshot_fd_ < 0)
        return base::make_error("snapshot",
                                "cannot open snapshot " + cfg_.snapshot_path + ": " + std::strerror(errno));
    if (restored->unrecognized_lines > 0)
        log_.warn("agent", "snapshot " + cfg_.snapshot_path + ": skipped " +
                               std::to_string(restored->unrecognized_lines) + " unrecognized line(s)");
    return base::ok_status();
}

base::Result<serf::Config> Agent::serf_config() {
    serf::Config sc;
    if (!swim::Config::from_profile(cfg_.profile, sc.memberlist))
        return base::make_error("config", "unknown profile '" + cfg_.profile + "'");
    sc.memberlist.name = cfg_.node_name;
    auto ip = net::ip_bytes(advertise_host_);
    if (!ip)
        return ip.error();
    sc.memberlist.advertise_addr = *ip;
    sc.memberlist.advertise_port = static_cast<std::uint16_t>(advertise_port_);
    sc.memberlist.ping_source_implied =
        net::source_is_advertised(bind_host_, static_cast<std::uint16_t>(bind_port_), advertise_host_,
                                  static_cast<std::uint16_t>(advertise_port_));
    sc.tags = cfg_.tags;
    sc.protocol_version = static_cast<std::uint8_t>(cfg_.protocol);
    sc.broadcast_timeout = cfg_.broadcast_timeout;
    sc.reconnect_interval = cfg_.reconnect_interval;
    sc.reconnect_timeout = cfg_.reconnect_timeout;
    sc.tombstone_timeout = cfg_.tombstone_timeout;
    // The agent's fixed coalescing windows (Serf's agent sets the same).
    sc.coalesce_period = std::chrono::seconds(3);
    sc.quiescent_period = std::chrono::seconds(1);
    sc.user_coalesce_period = std::chrono::seconds(3);
    sc.user_quiescent_period = std::chrono::seconds(1);
    sc.query_size_limit = static_cast<std::size_t>(cfg_.query_size_limit);
    sc.query_response_size_limit = static_cast<std::size_t>(cfg_.query_response_size_limit);
    sc.user_event_size_limit = static_cast<std::size_t>(cfg_.user_event_size_limit);
    sc.disable_coordinates = cfg_.disable_coordinates;
    sc.enable_name_conflict_resolution = !cfg_.disable_name_resolution;
    sc.snapshot = !cfg_.snapshot_path.empty();
    sc.rejoin_after_leave = cfg_.rejoin_after_leave;
    sc.keyring = &keyring_;
    return sc;
}

base::Status Agent::start() {
    // Node name (Kong's scheme when none is configured).
    if (cfg_.node_name.empty()) {
        bool persisted = false;
        auto name = default_node_name(cfg_.data_dir, cfg_.bind, &persisted);
        if (!name)
            return name.error();
        cfg_.node_name = *name;
        if (!persisted)
            log_.warn("agent", "no data_dir: generated node name '" + cfg_.node_name +
                                   "' will change on restart (set data_dir or node_name)");
    }
    // Bind and advertise addresses.
    if (auto st = config::check_ip_port(cfg_.bind, 7946, &bind_host_, &bind_port_); !st)
        return st.error();
    if (bind_host_.empty())
        bind_host_ = "0.0.0.0";
    advertise_port_ = bind_port_;
    if (!cfg_.advertise.empty()) {
        if (auto st =
                config::check_ip_port(cfg_.advertise, bind_port_, &advertise_host_, &advertise_port_, true);
            !st)
            return st.error();
        if (!net::is_ip_literal(advertise_host_)) {
            // A host name, as Serf accepts: its first address (IPv4 preferred) is advertised.
            auto ips = net::resolve_host(advertise_host_);
            if (!ips)
                return ips.error().with_prefix("advertise");
            log_.info("agent", "advertise: '" + advertise_host_ + "' resolves to " + ips->front());
            advertise_host_ = ips->front();
        }
        log_.info("agent",
                  "advertising " +
                      net::join_host_port(advertise_host_, static_cast<std::uint16_t>(advertise_port_)) +
                      " (configured)");
    } else if (bind_host_ == "0.0.0.0" || bind_host_ == "::") {
        if (auto ip = net::first_private_ipv4()) {
            advertise_host_ = *ip;
            log_.info("agent", "bound to " + bind_host_ + ": advertising first private IPv4 address " + *ip);
        } else if (auto ip6 = bind_host_ == "::" ? net::first_ipv6() : std::nullopt) {
            advertise_host_ = *ip6;
            log_.info("agent", "bound to :: with no private IPv4 address: advertising IPv6 address " + *ip6);
        } else {
            advertise_host_ = "127.0.0.1";
            log_.warn("agent",
                      "bound to " + bind_host_ +
                          " but no private IPv4 address found: advertising 127.0.0.1 (set advertise)");
        }
    } else {
        advertise_host_ = bind_host_;
    }
    // Tags file.
    if (!cfg_.tags_file.empty()) {
        auto tags = read_tags_file(cfg_.tags_file);
        if (!tags)
            return tags.error();
        if (!tags->empty() && !cfg_.tags.empty())
            return base::make_error("config",
                                    "tags config not allowed while using tag files (" + cfg_.tags_file + ")");
        if (!tags->empty())
            cfg_.tags = *tags;
        else if (auto st = write_tags_file(cfg_.tags_file, cfg_.tags); !st)
            return st.error();
    }
    if (auto st = check_http(); !st)
        return st.error();
    if (auto st = setup_keyring(); !st)
        return st.error();
    if (auto st = open_datastore(); !st)
        return st.error();
    std::optional<serf::SnapshotState> restored;
    std::size_t snap_size = 0;
    if (auto st = setup_snapshot(restored, snap_size); !st)
        return st.error();
    auto sc = serf_config();
    if (!sc)
        return sc.error();

    std::random_device rd;
    const std::uint64_t seed = (std::uint64_t{rd()} << 32) ^ rd();
    members_version_ = 0;
    node_ = std::make_unique<serf::Node>(std::move(*sc), seed, base::Instant::zero(),
                                         restored ? &*restored : nullptr, snap_size);
    host_ = std::make_unique<net::HostAdapter<serf::Node>>(*node_);
    net::DriverOptions dopts;
    dopts.bind_addr = asio::ip::make_address(bind_host_);
    dopts.bind_port = static_cast<std::uint16_t>(bind_port_);
    dopts.compress = cfg_.enable_compression;
    dopts.label = cfg_.cluster_label;
    dopts.tcp_timeout = node_->config().memberlist.tcp_timeout;
    driver_ = std::make_unique<net::Driver>(io_, *host_, dopts, [this](int level, const std::string& m) {
        log_.log(level <= 0   ? LogLevel::Debug
                 : level == 1 ? LogLevel::Info
                 : level == 2 ? LogLevel::Warn
                              : LogLevel::Error,
                 "memberlist", m);
    });
    if (keyring_.enabled())
        driver_->set_keyring(&keyring_.ring);
    // The node's clock starts at zero; the driver's clock is the one the node lives on from now.
    driver_->set_after_activity([this] { after_activity(); });
    if (auto st = driver_->start(); !st)
        return st.error();

    // Event handlers.
    auto specs = parse_handler_specs(cfg_.event_handlers);
    if (!specs)
        return specs.error();
    RunnerOptions ropts;
    ropts.timeout = cfg_.handler_timeout;
    // The runner and dispatcher write Serf's own "agent: ..." messages; the hub adds the prefix.
    auto sink = [this](LogLevel level, const std::string& msg) {
        const bool prefixed = msg.rfind("agent: ", 0) == 0;
        log_.log(level, "agent", prefixed ? msg.substr(7) : msg);
    };
    runner_ = std::make_unique<ProcessRunner>(io_, ropts, sink);
    dispatcher_ = std::make_unique<HandlerDispatcher>(
        *runner_, std::move(*specs),
        [this] {
            return HandlerSelf{node_->name(), node_->tags()};
        },
        [this](std::uint64_t token, const std::string& qname, const std::string& output) {
            auto err = respond(token, base::to_bytes(output));
            if (!err.empty())
                log_.warn("agent", "failed to respond to query '" + qname + "': " + err);
        },
        sink);
    dispatcher_->set_query_response_limit(static_cast<std::size_t>(cfg_.query_response_size_limit));

    // RPC.
    rpc::ServerConfig rc;
    rc.bind = cfg_.rpc_addr;
    rc.auth_key = cfg_.rpc_auth;
    std::string fd_note;
    rc.max_connections = fit_open_files(static_cast<std::size_t>(cfg_.rpc_max_connections), fd_note);
    if (!fd_note.empty())
        log_.log(rc.max_connections < static_cast<std::size_t>(cfg_.rpc_max_connections) ? LogLevel::Warn
                                                                                         : LogLevel::Debug,
                 "agent", fd_note);
    rc.now = [this] { return driver_->now(); };
    rc.log = [this](const char* level, const std::string& msg) {
        auto lv = parse_log_level(level);
        log_.log(lv ? *lv : LogLevel::Info, "agent.ipc", msg);
    };
    auto server = rpc::Server::start(io_, *this, rc);
    if (!server) {
        driver_->stop();
        return server.error();
    }
    rpc_ = std::move(*server);
    if (auto st = start_http(); !st) {
        rpc_->stop();
        driver_->stop();
        return st.error();
    }

    signals_.add(SIGUSR1);
    start_metrics();
    signals_.async_wait([this](const std::error_code& ec, int sig) {
        if (!ec)
            handle_signal(sig);
    });

    const bool encrypted = keyring_.enabled();
    std::ostringstream banner;
    banner << "==> clusterd agent running!\n"
           << "         Node name: '" << cfg_.node_name << "'\n"
           << "         Bind addr: '" << net::join_host_port(bind_host_, driver_->bound_port()) << "'\n"
           << "         Advertise: '"
           << net::join_host_port(advertise_host_, static_cast<std::uint16_t>(advertise_port_)) << "'\n"
           << "          RPC addr: '" << cfg_.rpc_addr << "'\n"
           << "         HTTP addr: " << (cfg_.http_addr.empty() ? "off" : "'" + cfg_.http_addr + "'") << "\n"
           << "         Encrypted: " << (encrypted ? "true" : "false") << "\n"
           << "          Snapshot: " << (cfg_.snapshot_path.empty() ? "false" : "true") << "\n"
           << "           Profile: " << cfg_.profile << "\n"
           << "            Config: " << (cfg_.config_file.empty() ? "(built-in defaults)" : cfg_.config_file)
           << "\n"
           << "==> Log data will now stream in as it occurs:\n";
    std::cout << banner.str() << std::flush;
    for (const auto& w : cfg_.warnings)
        log_.warn("agent", w);
    log_.info("agent", "clusterd " + std::string(base::version()) + " started: node '" + cfg_.node_name +
                           "', gossip on " + net::join_host_port(bind_host_, driver_->bound_port()) +
                           ", rpc on " + cfg_.rpc_addr);

    start_joins();
    start_discovery();
    start_mdns();
    notify_ready("running: node " + cfg_.node_name);
    start_watchdog();
    driver_->kick();
    return base::ok_status();
}

base::Result<Agent::Seeds> Agent::resolve(const std::vector<std::string>& addrs) {
    Seeds out;
    for (std::size_t i = 0; i < addrs.size(); ++i) {
        const auto& a = addrs[i];
        // Serf accepts "name/addr" (node name hint); the name is not needed to join.
        const auto slash = a.find('/');
        std::string text = a.substr(slash == std::string::npos ? 0 : slash + 1);
        auto hp = net::parse_host_port(text, 7946);
        if (!hp) {
            out.errors.push_back(hp.error().message);
            continue;
        }
        auto ips = net::resolve_host(hp->host);
        if (!ips) {
            out.errors.push_back(ips.error().message);
            continue;
        }
        for (const auto& ip : *ips) {
            auto bytes = net::ip_bytes(ip);
            if (!bytes)
                continue;
            swim::Address seed{*bytes, hp->port};
            if (out.entry_of.emplace(seed, i).second)
                out.addrs.push_back(std::move(seed));
        }
    }
    for (const auto& e : out.errors)
        log_.warn("agent", "join: " + e);
    if (out.addrs.empty()) {
        std::string why;
        for (const auto& e : out.errors)
            why += (why.empty() ? "" : "; ") + e;
        return base::make_error("resolve", why.empty() ? std::string("no address to join") : why);
    }
    return out;
}

base::Result<std::uint64_t> Agent::start_join_with(const Seeds& seeds) {
    auto id = node_->join(seeds.addrs, !cfg_.replay_on_join, driver_->now());
    if (!id)
        return id.error();
    joins_[*id].entry_of = seeds.entry_of;
    return *id;
}

void Agent::start_joins() {
    if (!cfg_.start_join.empty()) {
        auto seeds = resolve(cfg_.start_join);
        if (!seeds) {
            log_.error("agent", "failed to join: " + seeds.error().message);
            begin_shutdown(false, 1);
            return;
        }
        auto id = start_join_with(*seeds);
        if (!id) {
            log_.error("agent", "failed to join: " + id.error().message);
            begin_shutdown(false, 1);
            return;
        }
        joins_[*id].start_join = true;
    } else {
        // A restarted node finds its old peers from the snapshot, as Serf does.
        node_->rejoin_previous(driver_->now());
    }
    if (!cfg_.retry_join.empty())
        retry_join_tick();
}

void Agent::retry_join_tick() {
    if (shutting_down_)
        return;
    auto seeds = resolve(cfg_.retry_join);
    ++retry_attempts_;
    if (seeds) {
        auto id = start_join_with(*seeds);
        if (id) {
            joins_[*id].retry_join = true;
            driver_->kick();
            return; // the result decides whether to retry
        }
        log_.warn("agent", "retry join: " + id.error().message);
    } else {
        log_.warn("agent", "retry join: " + seeds.error().message);
    }
    on_join_result(serf::JoinResult{}); // counts as a failed attempt
}

void Agent::handle_signal(int sig) {
    signals_.async_wait([this](const std::error_code& ec, int s) {
        if (!ec)
            handle_signal(s);
    });
    if (sig == SIGHUP) {
        reload();
        return;
    }
    if (sig == SIGUSR1) {
        dump_metrics();
        return;
    }
    ++signals_seen_;
    if (signals_seen_ > 1) {
        log_.warn("agent", "second signal: exiting without waiting for the graceful leave");
        exit_code_ = 1;
        finish_shutdown();
        return;
    }
    const bool graceful = sig == SIGINT ? !cfg_.skip_leave_on_interrupt : cfg_.leave_on_terminate;
    log_.info("agent",
              std::string("caught signal ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") +
                  (graceful ? ", leaving the cluster gracefully" : ", shutting down without leaving"));
    begin_shutdown(graceful, 0);
}

void Agent::begin_shutdown(bool graceful, int code) {
    if (shutting_down_)
        return;
    shutting_down_ = true;
    exit_code_ = code;
    notify_stopping(graceful ? "leaving the cluster" : "shutting down");
    if (graceful)
        discovery_leave();
    if (graceful && node_ && node_->state() == serf::NodeState::Alive) {
        leaving_ = true;
        auto st = node_->leave(driver_->now());
        if (!st)
            log_.warn("agent", "leave: " + st.error().message);
        driver_->kick();
        // Serf waits at most 3 s for a graceful leave on a signal; the node's own timers also
        // bound it by broadcast_timeout + the propagate delay.
        shutdown_timer_.expires_after(
            std::max<base::Duration>(std::chrono::seconds(3), cfg_.broadcast_timeout) +
            std::chrono::seconds(2));
        shutdown_timer_.async_wait([this](const std::error_code& ec) {
            if (ec)
                return;
            log_.warn("agent", "graceful leave timed out");
            finish_shutdown();
        });
        return;
    }
    asio::post(io_, [this] { finish_shutdown(); });
}

void Agent::start_watchdog() {
    const auto interval = watchdog_interval_from_env();
    if (interval.count() == 0)
        return;
    watchdog_period_ = std::max(interval / 2, std::chrono::microseconds(1000));
    log_.info("agent", "systemd watchdog on: WATCHDOG=1 every " +
                           std::to_string(watchdog_period_.count() / 1000) + " ms");
    watchdog_tick();
}

void Agent::watchdog_tick() {
    notify_watchdog();
    watchdog_timer_.expires_after(watchdog_period_);
    watchdog_timer_.async_wait([this, life = std::weak_ptr<int>(alive_)](const std::error_code& ec) {
        if (ec || life.expired()) // cancelled by finish_shutdown(); a leave keeps pinging
            return;
        watchdog_tick();
    });
}

void Agent::finish_shutdown() {
    shutdown_timer_.cancel();
    watchdog_timer_.cancel();
    retry_timer_.cancel();
    discovery_timer_.cancel();
    stop_mdns();
    if (node_) {
        write_snapshot();
        node_->shutdown();
    }
    if (driver_)
        driver_->stop();
    if (rpc_)
        rpc_->stop();
    stop_http();
    stop_metrics();
    signals_.cancel();
    if (snapshot_fd_ >= 0)
        ::fsync(snapshot_fd_);
    log_.info("agent", "shutdown complete");
    io_.stop();
}

void Agent::reload() {
    log_.info("agent", "reloading configuration (SIGHUP)");
    notify_reloading();
    auto fresh = config::load_config(config_path_, flags_);
    if (!fresh) {
        log_.error("agent", "reload failed, keeping the running config: " + fresh.error().message);
        notify_ready();
        return;
    }
    if (auto lv = parse_log_level(fresh->log_level))
        log_.set_level(*lv);
    auto specs = parse_handler_specs(fresh->event_handlers);
    if (specs) {
        dispatcher_->update_specs(std::move(*specs));
    } else {
        log_.error("agent", "reload: " + specs.error().message);
    }
    auto tags = fresh->tags;
    if (!cfg_.tags_file.empty()) {
        if (auto t = read_tags_file(cfg_.tags_file); t && !t->empty())
            tags = *t;
    }
    if (tags != node_->tags()) {
        if (auto st = node_->set_tags(tags, driver_->now()); !st)
            log_.error("agent", "reload tags: " + st.error().message);
        driver_->kick();
    }
    cfg_.event_handlers = fresh->event_handlers;
    cfg_.log_level = fresh->log_level;
    notify_ready("running: node " + cfg_.node_name);
}

int run_agent(const config::FlagValues& flags) {
    const std::string path = config::pick_config_path(flags, std::getenv("CLUSTERD_CONFIG"));
    auto cfg = config::load_config(path, flags);
    if (!cfg) {
        std::cerr << "clusterd agent: " << cfg.error().message << "\n";
        return 1;
    }
    if (cfg->config_check) {
        std::cout << config::render_config(*cfg);
        return 0;
    }
    auto level = parse_log_level(cfg->log_level);
    LogHub hub(level ? *level : LogLevel::Info);
    asio::io_context io;
    Agent agent(io, *cfg, hub);
    agent.set_reload_source(path, flags);
    if (auto st = agent.start(); !st) {
        std::cerr << "clusterd agent: " << st.error().message << "\n";
        return 1;
    }
    io.run();
    return agent.exit_code();
}

} // namespace clusterd::agent
