// Session handlers of the stream family: event streams, log monitors, stop, queries and their
// responses, and the records they push.
#include "clusterd/rpc/session.hpp"

namespace clusterd::rpc {

bool Session::on_stream(std::uint64_t seq, const StreamRequest& req) {
    auto filters = parse_event_filter(req.type);
    for (const auto& f : filters) {
        if (!f.valid())
            return answer(seq, err::kInvalidFilter);
    }
    if (streams_.count(seq) != 0)
        return answer(seq, err::kStreamExists);
    reply(seq, "");
    Stream s;
    s.filters = std::move(filters);
    std::weak_ptr<int> w = life_;
    s.sub = agent_.subscribe_events([w, this, seq](const Event& e) {
        if (!w.expired())
            on_agent_event(seq, e);
    });
    streams_[seq] = std::move(s);
    return !closing_;
}

void Session::on_agent_event(std::uint64_t seq, const Event& e) {
    auto it = streams_.find(seq);
    if (it == streams_.end())
        return;
    bool match = false;
    for (const auto& f : it->second.filters)
        match = match || f.matches(e);
    if (!match)
        return;
    base::Bytes frame;
    encode(frame, ResponseHeader{seq, ""});
    if (const auto* m = std::get_if<MemberEvent>(&e)) {
        encode(frame, *m);
    } else if (const auto* u = std::get_if<UserEvent>(&e)) {
        encode(frame, UserEventRecord{u->ltime, u->name, u->payload, u->coalesce});
    } else {
        const auto& q = std::get<QueryEvent>(e);
        if (queued_[seq] >= cfg_.stream_queue_limit) {
            ++counters_.dropped_records;
            return;
        }
        const std::uint64_t id = ++next_query_id_;
        pending_[id] = Pending{q.token, q.deadline};
        while (pending_.size() > cfg_.max_pending_queries)
            pending_.erase(pending_.begin());
        encode(frame, QueryEventRecord{id, q.ltime, q.name, q.payload});
    }
    push_record(seq, std::move(frame));
}

bool Session::on_monitor(std::uint64_t seq, const MonitorRequest& req) {
    const std::string level = normalize_log_level(req.log_level);
    if (level.empty()) {
        std::string up;
        for (char ch : req.log_level)
            up.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
        return answer(seq, "Unknown log level: " + up);
    }
    if (monitor_)
        return answer(seq, err::kMonitorExists);
    reply(seq, "");
    monitor_ = Monitor{seq, level, 0};
    std::weak_ptr<int> w = life_;
    monitor_->sub = agent_.subscribe_logs([w, this](const std::string& line) {
        if (!w.expired())
            on_log(line);
    });
    return !closing_;
}

void Session::on_log(const std::string& line) {
    if (!monitor_ || !log_line_passes(line, monitor_->level))
        return;
    base::Bytes frame;
    encode(frame, ResponseHeader{monitor_->seq, ""});
    encode(frame, LogRecord{line});
    push_record(monitor_->seq, std::move(frame));
}

bool Session::on_stop(std::uint64_t seq, const StopRequest& req) {
    if (monitor_ && monitor_->seq == req.stop) {
        agent_.unsubscribe(monitor_->sub);
        monitor_.reset();
    }
    if (auto it = streams_.find(req.stop); it != streams_.end()) {
        agent_.unsubscribe(it->second.sub);
        streams_.erase(it);
    }
    reply(seq, "");
    return !closing_;
}

bool Session::on_query(std::uint64_t seq, const QueryRequest& req) {
    std::weak_ptr<int> w = life_;
    auto record = [w, this, seq](std::string_view type, const std::string& from, const base::Bytes& payload) {
        if (w.expired())
            return;
        base::Bytes frame;
        encode(frame, ResponseHeader{seq, ""});
        encode(frame, QueryRecord{std::string(type), from, payload});
        push_record(seq, std::move(frame));
    };
    QueryCallbacks cbs;
    cbs.on_ack = [record](const std::string& from) { record(rec::kAck, from, {}); };
    cbs.on_response = [record](const std::string& from, const base::Bytes& p) {
        record(rec::kResponse, from, p);
    };
    auto finished = std::make_shared<bool>(false);
    cbs.on_done = [w, this, seq, record, finished] {
        *finished = true;
        if (w.expired())
            return;
        record(rec::kDone, "", {});
        queries_.erase(seq);
    };
    const std::size_t mark = out_.size();
    SubscriptionId id = 0;
    const std::string error = agent_.query(req.params, std::move(cbs), id);
    if (!error.empty())
        return answer(seq, error);
    // Records the agent produced synchronously must follow the reply.
    Out o;
    encode(o.bytes, ResponseHeader{seq, ""});
    out_bytes_ += o.bytes.size();
    out_.insert(out_.begin() + static_cast<std::ptrdiff_t>(std::min(mark, out_.size())), std::move(o));
    if (on_output_)
        on_output_();
    if (!*finished)
        queries_[seq] = id;
    return !closing_;
}

bool Session::on_respond(std::uint64_t seq, const RespondRequest& req) {
    auto it = pending_.find(req.id);
    if (it == pending_.end())
        return answer(seq, err::kInvalidQueryId);
    reply(seq, agent_.respond(it->second.token, req.payload));
    return !closing_;
}

} // namespace clusterd::rpc
