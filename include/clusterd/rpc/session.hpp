// rpc::Session: one IPC v1 connection as a pure state machine. Bytes in (feed), bytes out
// (take_output); no sockets, clocks or threads. It enforces the handshake and auth gates, runs each
// command against an AgentApi, owns the connection's stream/monitor/query registrations, and
// bounds what it buffers: a request's length claims are checked against the configured maximum and
// the bytes actually received before anything is allocated, and each stream keeps at most
// `stream_queue_limit` unsent records (the rest are dropped and counted, as Serf does).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "clusterd/base/bytes.hpp"
#include "clusterd/base/text.hpp"
#include "clusterd/base/time.hpp"
#include "clusterd/rpc/agent_api.hpp"
#include "clusterd/rpc/event_filter.hpp"
#include "clusterd/rpc/protocol.hpp"

namespace clusterd::rpc {

struct SessionConfig {
    std::string auth_key;                            ///< "" = no auth required
    std::size_t max_request_bytes = 256 * 1024;      ///< one request (header + body)
    std::size_t stream_queue_limit = 512;            ///< unsent records per stream/monitor/query
    std::size_t max_output_bytes = 16 * 1024 * 1024; ///< beyond this the session closes
    std::size_t max_pending_queries = 1024;          ///< query IDs remembered for `respond`
    int max_auth_failures = 3;                       ///< close after this many bad tokens (0 = never)
};

struct SessionCounters {
    std::uint64_t requests = 0;
    std::uint64_t dropped_records = 0; ///< stream/monitor/query records dropped (slow reader)
    std::uint64_t auth_failures = 0;
    /// Requests by command name (only names of the command table: an unknown command closes
    /// the session before it is counted).
    std::map<std::string, std::uint64_t> by_command;
    /// Adds another session's counts.
    void add(const SessionCounters& o) {
        requests += o.requests;
        dropped_records += o.dropped_records;
        auth_failures += o.auth_failures;
        for (const auto& [k, v] : o.by_command)
            by_command[k] += v;
    }
};

/// Constant-time string equality (time depends only on the lengths).
using base::constant_time_equal;

class Session {
  public:
    Session(AgentApi& agent, SessionConfig config);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    /// Appends received bytes and runs every complete request (one at a time: while the agent
    /// works on one, later requests wait in the buffer).
    void feed(base::ByteView data);
    /// Everything queued for the client, in order. Taking it frees stream queue room.
    base::Bytes take_output();
    bool has_output() const { return !out_.empty(); }
    /// Called whenever output is queued (the server wakes its writer).
    void set_output_listener(std::function<void()> fn) { on_output_ = std::move(fn); }

    /// The connection must be closed once the queued output is written.
    bool closing() const { return closing_; }
    const std::string& close_reason() const { return close_reason_; }
    /// A request is waiting for the agent.
    bool busy() const { return busy_; }
    /// Bytes received that do not yet form a complete request.
    std::size_t buffered() const { return in_.size() - in_pos_; }
    bool handshake_done() const { return version_ != 0; }
    /// The client sent the right `auth` token (always false when no token is configured).
    bool authenticated() const { return authed_; }
    /// A stream, monitor or query is registered (the client may legitimately stay silent).
    bool has_subscriptions() const { return !streams_.empty() || monitor_.has_value() || !queries_.empty(); }
    /// A successful reply to `leave` has been queued; after writing it the server calls
    /// agent.shutdown() (the connection stays open until the agent's shutdown closes it).
    bool leave_replied() const { return leave_replied_; }
    /// Forgets query IDs (for `respond`) whose deadline is before `now`.
    void expire(base::Instant now);
    const SessionCounters& counters() const { return counters_; }
    std::size_t pending_query_ids() const { return pending_.size(); }

  private:
    struct Out {
        std::uint64_t stream = 0; ///< seq of the stream it belongs to, 0 for replies
        bool counted = false;
        base::Bytes bytes;
    };
    struct Stream {
        std::vector<EventFilter> filters;
        SubscriptionId sub = 0;
    };
    struct Monitor {
        std::uint64_t seq = 0;
        std::string level;
        SubscriptionId sub = 0;
    };
    struct Pending {
        std::uint64_t token = 0;
        base::Instant deadline;
    };

    void process();
    void reply(std::uint64_t seq, std::string_view error);
    void reply(std::uint64_t seq, std::string_view error, base::ByteView body);
    /// reply(), then whether input processing may go on.
    bool answer(std::uint64_t seq, std::string_view error) {
        reply(seq, error);
        return !closing_;
    }
    bool push_record(std::uint64_t stream, base::Bytes frame);
    void close(std::string reason);
    void finish_async();
    std::function<void()> guard(std::function<void()> fn);

    // ---- the command table (session_commands.cpp): {name, request type, handler} ----
    /// A command without a request body.
    struct NoBody {};
    struct Command {
        std::string_view name;
        bool has_body;
        /// Decodes the body into the handler's request type and runs the handler; false stops
        /// processing input (the session closes or waits for the agent).
        bool (*run)(Session& s, const Command& c, std::uint64_t seq, base::ByteView body);
    };
    template <typename Req, bool (Session::*Handler)(std::uint64_t, const Req&)>
    static bool run_command(Session& s, const Command& c, std::uint64_t seq, base::ByteView body);
    template <typename Req, bool (Session::*Handler)(std::uint64_t, const Req&)>
    static constexpr Command command(std::string_view name) {
        return {name, !std::is_same_v<Req, NoBody>, &run_command<Req, Handler>};
    }
    static const Command* find_command(std::string_view name);
    /// A reply callback for commands that wait on the agent: replies, then resumes input.
    ErrorCallback reply_later(std::uint64_t seq);

    // Handlers by family. Cluster (session_cluster.cpp):
    bool on_handshake(std::uint64_t seq, const HandshakeRequest& req);
    bool on_auth(std::uint64_t seq, const AuthRequest& req);
    bool on_members(std::uint64_t seq, const NoBody&);
    bool on_members_filtered(std::uint64_t seq, const MembersFilteredRequest& req);
    bool on_join(std::uint64_t seq, const JoinRequest& req);
    bool on_leave(std::uint64_t seq, const NoBody&);
    bool on_force_leave(std::uint64_t seq, const ForceLeaveRequest& req);
    bool on_tags(std::uint64_t seq, const TagsRequest& req);
    bool on_event(std::uint64_t seq, const EventRequest& req);
    bool on_stats(std::uint64_t seq, const NoBody&);
    bool on_get_coordinate(std::uint64_t seq, const CoordinateRequest& req);
    bool on_store_list(std::uint64_t seq, const NoBody&);
    // Streams, monitor and queries (session_streams.cpp):
    bool on_stream(std::uint64_t seq, const StreamRequest& req);
    bool on_monitor(std::uint64_t seq, const MonitorRequest& req);
    bool on_stop(std::uint64_t seq, const StopRequest& req);
    bool on_query(std::uint64_t seq, const QueryRequest& req);
    bool on_respond(std::uint64_t seq, const RespondRequest& req);
    void on_agent_event(std::uint64_t seq, const Event& e);
    void on_log(const std::string& line);
    // Keys (session_keys.cpp):
    bool on_install_key(std::uint64_t seq, const KeyRequest& req);
    bool on_use_key(std::uint64_t seq, const KeyRequest& req);
    bool on_remove_key(std::uint64_t seq, const KeyRequest& req);
    bool on_list_keys(std::uint64_t seq, const NoBody&);
    std::function<void(const KeyResponse&)> key_reply(std::uint64_t seq, bool with_keys);

    AgentApi& agent_;
    SessionConfig cfg_;
    std::shared_ptr<int> life_ = std::make_shared<int>(0);
    base::Bytes in_;
    std::size_t in_pos_ = 0;
    std::size_t need_ = 0; ///< do not re-parse until this many bytes are buffered
    std::deque<Out> out_;
    std::size_t out_bytes_ = 0;
    std::map<std::uint64_t, std::size_t> queued_; ///< stream seq -> records waiting
    std::function<void()> on_output_;
    std::int32_t version_ = 0;
    bool authed_ = false;
    bool busy_ = false;
    bool processing_ = false;
    bool closing_ = false;
    bool leave_replied_ = false;
    std::string close_reason_;
    std::map<std::uint64_t, Stream> streams_;
    std::optional<Monitor> monitor_;
    std::map<std::uint64_t, SubscriptionId> queries_; ///< query seq -> agent id
    std::map<std::uint64_t, Pending> pending_;        ///< client query ID -> agent token
    std::uint64_t next_query_id_ = 0;
    SessionCounters counters_;
};

} // namespace clusterd::rpc
