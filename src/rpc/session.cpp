// The per-connection IPC state machine (see session.hpp).
#include "clusterd/rpc/session.hpp"

#include <algorithm>
#include <optional>

#include "clusterd/rpc/protocol.hpp"

namespace clusterd::rpc {

Session::Session(AgentApi& agent, SessionConfig config) : agent_(agent), cfg_(std::move(config)) {}

Session::~Session() {
    life_.reset();
    for (auto& [seq, s] : streams_)
        agent_.unsubscribe(s.sub);
    if (monitor_)
        agent_.unsubscribe(monitor_->sub);
    for (auto& [seq, id] : queries_)
        agent_.cancel_query(id);
}

void Session::feed(base::ByteView data) {
    if (closing_)
        return;
    // Compact consumed input before growing the buffer.
    if (in_pos_ > 0 && in_pos_ == in_.size()) {
        in_.clear();
        in_pos_ = 0;
    } else if (in_pos_ > 4096 && in_pos_ * 2 > in_.size()) {
        in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(in_pos_));
        if (need_ > 0)
            need_ -= std::min(need_, in_pos_);
        in_pos_ = 0;
    }
    in_.insert(in_.end(), data.begin(), data.end());
    // While the agent works on a request, later ones wait here; bound how much may pile up.
    if (busy_ && buffered() > 4 * cfg_.max_request_bytes) {
        close("too many requests queued behind a pending one");
        return;
    }
    process();
}

base::Bytes Session::take_output() {
    if (out_.size() == 1 && !out_.front().counted) { // replies only (the usual case): no copy
        base::Bytes all = std::move(out_.front().bytes);
        out_.clear();
        out_bytes_ = 0;
        return all;
    }
    base::Bytes all;
    all.reserve(out_bytes_);
    for (auto& o : out_) {
        all.insert(all.end(), o.bytes.begin(), o.bytes.end());
        if (o.counted) {
            auto it = queued_.find(o.stream);
            if (it != queued_.end() && --it->second == 0)
                queued_.erase(it);
        }
    }
    out_.clear();
    out_bytes_ = 0;
    return all;
}

void Session::close(std::string reason) {
    if (!closing_) {
        closing_ = true;
        close_reason_ = std::move(reason);
    }
    if (on_output_)
        on_output_();
}

void Session::reply(std::uint64_t seq, std::string_view error) {
    reply(seq, error, base::ByteView{});
}

void Session::reply(std::uint64_t seq, std::string_view error, base::ByteView body) {
    // Replies that follow one another share one buffer (a pipelining client's batch is answered
    // without an allocation per reply); stream records keep their own entries for the per-stream
    // queue accounting.
    if (out_.empty() || out_.back().counted)
        out_.emplace_back();
    base::Bytes& b = out_.back().bytes;
    const std::size_t before = b.size();
    encode(b, ResponseHeader{seq, std::string(error)});
    b.insert(b.end(), body.begin(), body.end());
    out_bytes_ += b.size() - before;
    if (on_output_)
        on_output_();
}

bool Session::push_record(std::uint64_t stream, base::Bytes frame) {
    if (closing_)
        return false;
    auto& n = queued_[stream];
    if (n >= cfg_.stream_queue_limit) {
        ++counters_.dropped_records;
        return false;
    }
    if (out_bytes_ + frame.size() > cfg_.max_output_bytes) {
        ++counters_.dropped_records;
        close("output buffer limit reached");
        return false;
    }
    ++n;
    Out o;
    o.stream = stream;
    o.counted = true;
    o.bytes = std::move(frame);
    out_bytes_ += o.bytes.size();
    out_.push_back(std::move(o));
    if (on_output_)
        on_output_();
    return true;
}

std::function<void()> Session::guard(std::function<void()> fn) {
    std::weak_ptr<int> w = life_;
    return [w, fn = std::move(fn)] {
        if (!w.expired())
            fn();
    };
}

void Session::finish_async() {
    busy_ = false;
    if (!processing_)
        process();
}

void Session::expire(base::Instant now) {
    for (auto it = pending_.begin(); it != pending_.end();) {
        if (it->second.deadline < now) {
            it = pending_.erase(it);
        } else {
            ++it;
        }
    }
}

void Session::process() {
    processing_ = true;
    const msgpack::Limits limits{cfg_.max_request_bytes, 32};
    // Where the next object ends, or how much input it still needs (need_, counted from in_).
    auto extent = [&](base::ByteView view, std::size_t at,
                      const std::string& what) -> std::optional<std::size_t> {
        auto e = msgpack::Reader(view.subspan(at), limits).measure();
        if (!e) {
            close("malformed " + what + ": " + e.error().message);
            return std::nullopt;
        }
        if (!e->complete) {
            if (view.size() > cfg_.max_request_bytes)
                close("request too large");
            need_ = in_pos_ + at + std::max<std::size_t>(e->need, view.size() - at + 1);
            return std::nullopt;
        }
        return e->size;
    };
    while (!busy_ && !closing_ && in_pos_ < in_.size()) {
        if (need_ > in_.size())
            break;
        const base::ByteView view(in_.data() + in_pos_, in_.size() - in_pos_);
        auto head_len = extent(view, 0, "request header");
        if (!head_len)
            break;
        RequestHeader header;
        if (auto st = decode(view.first(*head_len), header); !st.ok()) {
            close("bad request header: " + st.error().message);
            break;
        }
        if (header.command != cmd::kHandshake && version_ == 0) {
            reply(header.seq, err::kHandshakeRequired);
            close(std::string(err::kHandshakeRequired));
            break;
        }
        const Command* c = find_command(header.command);
        if (c == nullptr) {
            reply(header.seq, err::kUnsupportedCommand);
            close("unsupported command '" + header.command + "'");
            break;
        }
        std::size_t used = *head_len;
        base::ByteView body;
        if (c->has_body) {
            auto body_len = extent(view, used, header.command + " body");
            if (!body_len)
                break;
            body = view.subspan(used, *body_len);
            used += *body_len;
        }
        if (used > cfg_.max_request_bytes) {
            close("request too large");
            break;
        }
        in_pos_ += used;
        need_ = 0;
        ++counters_.requests;
        ++counters_.by_command[header.command];
        if (!cfg_.auth_key.empty() && !authed_ && header.command != cmd::kAuth &&
            header.command != cmd::kHandshake) {
            reply(header.seq, err::kAuthRequired);
            continue;
        }
        if (!c->run(*this, *c, header.seq, body))
            break;
    }
    processing_ = false;
}

ErrorCallback Session::reply_later(std::uint64_t seq) {
    busy_ = true;
    std::weak_ptr<int> w = life_;
    return [w, this, seq](const std::string& error) {
        if (w.expired())
            return;
        reply(seq, error);
        finish_async();
    };
}

} // namespace clusterd::rpc
