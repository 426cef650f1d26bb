// serf::detail::Queries: Serf queries (Go serf's query.go and the query half of serf.go): the
// query clock, the dedup buffer, the query broadcast queue, the receiver side (filters, acks,
// relays, responses) and the origin side (pending queries, their collectors and deadlines).
// internal_queries.cpp holds the internal queries: _serf_ping, the name-conflict vote and the
// key-management queries (_serf_install-key, ... answered through the KeyringPort, aggregated
// by a KeyResponseCollector). Private to src/serf.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "clusterd/swim/broadcast_queue.hpp"
#include "clusterd/wire/serf_messages.hpp"
#include "members.hpp"
#include "node_core.hpp"

namespace clusterd::serf::detail {

class Queries {
  public:
    Queries(Core& core, const Members& members);
    /// Clocks from a snapshot: queries at or below its query clock are not answered again.
    void restore(LamportTime last_query_clock);

    // receiver side
    /// A query from the network (or our own); true = new (rebroadcast it).
    bool handle(const wire::SerfQuery& msg);
    base::Status respond(const QueryEvent& q, base::ByteView payload);

    // origin side
    base::Result<std::uint64_t> start_user(const std::string& name, base::ByteView payload,
                                           const QueryParams& params);
    base::Result<std::uint64_t> start_key_operation(KeyOp op, const std::string& key_base64,
                                                    std::uint8_t relay_factor);
    /// Starts the name-conflict vote about this node (memberlist saw another node with our name).
    void start_conflict_vote();
    void handle_response(const wire::SerfQueryResponse& resp);
    /// Finishes queries whose deadline passed (may shut the node down: a lost conflict vote).
    void finish_due(base::Instant t);
    base::Instant next_deadline() const;

    void fill_state(wire::SerfPushPull& pp) const { pp.query_ltime = clock_.time(); }
    void merge_state(const wire::SerfPushPull& pp) {
        if (pp.query_ltime > 0)
            clock_.witness(pp.query_ltime - 1);
    }

    const LamportClock& clock() const { return clock_; }
    std::size_t pending() const { return pending_.size(); }
    base::Duration default_timeout() const;
    swim::BroadcastQueue& queue() { return queue_; }
    const swim::BroadcastQueue& queue() const { return queue_; }

  private:
    enum class Kind : std::uint8_t { User, Conflict, Key };
    struct Pending {
        std::uint64_t handle;
        Kind kind;
        QueryCollector collector;
        KeyOp key_op = KeyOp::List;
        std::optional<KeyResponseCollector> keys;
        std::size_t conflict_responses = 0;
        std::size_t conflict_matching = 0;
    };

    base::Result<std::uint64_t> start(const std::string& name, base::ByteView payload,
                                      const QueryParams& params, Kind kind, KeyOp key_op);
    base::Status send_response(const QueryEvent& q, const base::Bytes& raw);
    void relay_response(std::uint8_t relay_factor, const swim::Address& dest, const std::string& dest_name,
                        const base::Bytes& raw_response);
    void finish(Pending& pq);

    // internal_queries.cpp
    void handle_internal(const QueryEvent& q);
    void answer_conflict(const QueryEvent& q);
    void answer_key_query(const QueryEvent& q, KeyOp op);
    void collect_conflict_vote(Pending& pq, const base::Bytes& payload);
    void collect_key_response(Pending& pq, const std::string& from, const base::Bytes& payload);
    void finish_conflict_vote(const Pending& pq);

    Core& core_;
    const Members& members_;
    LamportClock clock_;
    LamportTime min_time_ = 0;
    QueryBuffer buffer_;
    swim::BroadcastQueue queue_;
    std::map<LamportTime, Pending> pending_;
    std::uint64_t next_handle_ = 1;
};

} // namespace clusterd::serf::detail
