// TCP stream sessions: the guarded stream, the frame reader, and the incoming and outgoing
// session coroutines (see stream_session.hpp).
#include "stream_session.hpp"

#include <array>
#include <asio/experimental/as_tuple.hpp>

#include "clusterd/wire/memberlist.hpp"
#include "driver_core.hpp"

namespace clusterd::net {

using asio::awaitable;
using asio::ip::tcp;
namespace {
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
}

void GuardedStream::close_for(const char* code) {
    if (closed_by == nullptr)
        closed_by = code;
    std::error_code ignored;
    sock.close(ignored);
}

std::function<void(const std::error_code&)> GuardedStream::on_header_deadline() {
    return [w = weak_from_this()](const std::error_code& ec) {
        if (ec)
            return;
        auto self = w.lock();
        if (!self || self->header_done || self->closed_by != nullptr)
            return;
        std::error_code aec;
        if (self->sock.is_open() && self->sock.available(aec) > 0 && !aec)
            return;
        self->close_for("header_timeout");
    };
}

std::function<void(const std::error_code&)> GuardedStream::on_deadline() {
    return [w = weak_from_this()](const std::error_code& ec) {
        if (ec)
            return;
        auto self = w.lock();
        if (!self)
            return; // the stream ended first
        self->timed_out = true;
        std::error_code ignored;
        self->sock.close(ignored);
    };
}

// g++ 12 misreads asio's awaitable frame operator new/delete pair as mismatched in this
// coroutine at -O2 (the same false positive cmake/ClusterdOptions.cmake silences under ASan).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
awaitable<base::Result<base::Bytes>> read_frame(DriverCore& core, GuardedStream& gs, std::uint64_t conn_id,
                                                bool incoming) {
    std::array<std::uint8_t, 16384> chunk{};
    base::Bytes buf;
    std::size_t limit = 0;
    std::size_t charged = 0;
    constexpr std::size_t kHeader = 5; // type byte + 4 bytes (an encrypted frame's length)
    bool label_checked = !incoming;    // only the dialling side sends the label header
    for (;;) {
        if (!buf.empty() && !label_checked) {
            auto h = wire::parse_label_header(buf);
            if (!h)
                co_return h.error();
            if (h->has_value()) {
                label_checked = true;
                if ((*h)->label != core.opts.label)
                    co_return base::make_error("label_mismatch",
                                               "discarding stream with unacceptable label \"" + (*h)->label +
                                                   "\"");
                buf.erase(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>((*h)->size));
            }
        }
        if (!buf.empty() && label_checked) {
            if (limit == 0) {
                auto l = core.frame_limit(buf[0]);
                if (!l)
                    co_return l.error();
                limit = *l;
            }
            auto len = wire::stream_frame_length(buf, limit);
            if (!len)
                co_return len.error();
            if (len->has_value()) {
                gs.header_done = true;
                const std::size_t n = **len;
                buf.resize(n); // one frame per stream; anything after it is ignored
                base::Bytes frame(std::move(buf));
                co_return frame;
            }
            if (buf.size() >= kHeader && !gs.header_done) {
                gs.header_done = true;
                if (buf[0] == static_cast<std::uint8_t>(wire::MsgType::Encrypt)) {
                    // The declared length is known (and within the limit): charge all of it
                    // now, so a frame that claims much and sends little holds budget, not
                    // memory, and is the first evicted when room is needed.
                    const std::size_t declared =
                        kHeader + ((std::size_t{buf[1]} << 24) | (std::size_t{buf[2]} << 16) |
                                   (std::size_t{buf[3]} << 8) | std::size_t{buf[4]});
                    if (!core.conns.charge_to(conn_id, charged, declared))
                        co_return base::make_error("buffer_cap", "buffered stream bytes at the cap");
                    buf.reserve(declared);
                }
            }
        }
        auto [ec, n] = co_await gs.sock.async_read_some(asio::buffer(chunk), kTuple);
        if (gs.closed_by != nullptr)
            co_return base::make_error(gs.closed_by,
                                       std::string("closed by the driver (") + gs.closed_by + ")");
        if (ec)
            co_return base::make_error("io",
                                       ec == asio::error::eof ? "connection closed mid-frame" : ec.message());
        if (!core.conns.charge_to(conn_id, charged, buf.size() + n))
            co_return base::make_error("buffer_cap", "buffered stream bytes at the cap");
        buf.insert(buf.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
    }
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

awaitable<void> serve_incoming(std::shared_ptr<DriverCore> core, std::shared_ptr<GuardedStream> stream,
                               std::uint64_t id, swim::Address src) {
    ++core->stats.tcp_in;
    tcp::socket& sock = stream->sock;
    asio::steady_timer deadline(core->io);
    deadline.expires_after(core->opts.tcp_timeout);
    deadline.async_wait(stream->on_deadline());
    asio::steady_timer header_deadline(core->io);
    header_deadline.expires_after(std::min(core->opts.tcp_header_timeout, core->opts.tcp_timeout));
    header_deadline.async_wait(stream->on_header_deadline());
    auto frame = co_await read_frame(*core, *stream, id, true);
    header_deadline.cancel();
    if (!frame) {
        const std::string code = frame.error().code;
        if (code == "header_timeout")
            ++core->stats.tcp_header_timeouts;
        // An eviction was counted when it happened; everything else is counted here.
        if (stream->closed_by == nullptr || code == "header_timeout")
            core->drop(code, "tcp stream from " + src.to_string() + ": " + frame.error().message);
    } else {
        core->stats.tcp_bytes_in += frame->size();
        auto msg = wire::open_stream(*frame, core->ring(), core->verify_incoming(), core->opts.label);
        frame->clear();
        frame->shrink_to_fit();
        if (!msg) {
            core->drop(msg.error().code, "tcp stream from " + src.to_string() + ": " + msg.error().message);
        } else {
            auto reply = core->host.handle_stream_request(src, *msg, core->now());
            core->kick();
            if (!reply) {
                core->drop(reply.error().code,
                           "tcp request from " + src.to_string() + ": " + reply.error().message);
            } else if (!reply->empty()) {
                auto sealed = wire::seal_stream(*reply, core->opts.compress, core->ring(), core->nonce, 1,
                                                core->opts.label);
                if (sealed) {
                    auto [wec, wn] = co_await asio::async_write(sock, asio::buffer(*sealed), kTuple);
                    if (!wec)
                        core->stats.tcp_bytes_out += wn;
                }
            }
        }
    }
    deadline.cancel();
    std::error_code ignored;
    sock.shutdown(tcp::socket::shutdown_both, ignored);
    sock.close(ignored);
    core->conns.release(id);
}

awaitable<void> run_outgoing(std::shared_ptr<DriverCore> core, swim::Transmit t) {
    ++core->stats.tcp_out;
    auto stream = std::make_shared<GuardedStream>(tcp::socket(core->io));
    tcp::socket& sock = stream->sock;
    const bool& timed_out = stream->timed_out;
    asio::steady_timer deadline(core->io);
    const auto timeout = t.timeout.count() > 0 ? t.timeout : core->opts.tcp_timeout;
    deadline.expires_after(timeout);
    deadline.async_wait(stream->on_deadline());
    std::string why;
    swim::StreamFailure kind = swim::StreamFailure::Other;
    const bool expects_reply = !t.msg.empty() && t.msg[0] != 8; // user messages get no reply
    auto [cec] = co_await sock.async_connect(tcp::endpoint(to_asio(t.to), t.to.port), kTuple);
    if (cec) {
        why = "connect to " + t.to.to_string() + ": " + (timed_out ? "timed out" : cec.message());
        if (!timed_out && cec == asio::error::connection_refused)
            kind = swim::StreamFailure::Refused;
    } else {
        auto sealed =
            wire::seal_stream(t.msg, core->opts.compress, core->ring(), core->nonce, 1, core->opts.label);
        if (!sealed) {
            why = "seal: " + sealed.error().message;
        } else {
            if (!core->opts.label.empty()) {
                base::Bytes out;
                wire::append_label_header(out, core->opts.label);
                out.insert(out.end(), sealed->begin(), sealed->end());
                *sealed = std::move(out);
            }
            auto [wec, wn] = co_await asio::async_write(sock, asio::buffer(*sealed), kTuple);
            if (wec) {
                why = "write to " + t.to.to_string() + ": " + (timed_out ? "timed out" : wec.message());
            } else {
                core->stats.tcp_bytes_out += wn;
                if (expects_reply) {
                    auto frame = co_await read_frame(*core, *stream, 0, false);
                    if (!frame) {
                        why = "read from " + t.to.to_string() + ": " +
                              (timed_out ? std::string("timed out") : frame.error().message);
                    } else {
                        core->stats.tcp_bytes_in += frame->size();
                        auto msg = wire::open_stream(*frame, core->ring(), core->verify_incoming(),
                                                     core->opts.label);
                        if (!msg) {
                            why = "reply from " + t.to.to_string() + ": " + msg.error().message;
                        } else if (!core->stopped) {
                            core->host.handle_stream_reply(t.stream_id, *msg, core->now());
                        }
                    }
                }
            }
        }
    }
    deadline.cancel();
    std::error_code ignored;
    sock.close(ignored);
    if (core->stopped)
        co_return;
    if (!why.empty())
        core->host.stream_failed(t.stream_id, core->now(), why, kind);
    core->kick();
}

} // namespace clusterd::net
