// net stream sessions (as the "connection" of asio's HTTP server example): one TCP stream, in
// either direction. GuardedStream is the socket with its deadlines; read_frame reads one
// stream frame under the driver's limits; serve_incoming answers one accepted stream and
// run_outgoing carries one swim stream transmit (push-pull, TCP ping, user message) and its
// reply. Private to src/net.
#pragma once

#include <asio.hpp>
#include <cstdint>
#include <memory>

#include "clusterd/base/result.hpp"
#include "clusterd/swim/endpoint.hpp"

namespace clusterd::net {

struct DriverCore;

/// A TCP stream whose deadline closes it. The socket lives in shared state that the deadline
/// handler reaches only through a weak reference: once a timer has expired its handler is
/// already queued and cancel() cannot stop it, so it may run after the coroutine that owned the
/// stream has finished (a stalled loop delivers the read completion and the expiry in one turn,
/// and the read resumes the coroutine first). Capturing the socket by reference there was the
/// use after free of issue 12. Rule: an async handler never holds a reference into a coroutine
/// frame or any object whose lifetime the handler does not share.
struct GuardedStream : std::enable_shared_from_this<GuardedStream> {
    explicit GuardedStream(asio::ip::tcp::socket s) : sock(std::move(s)) {}
    asio::ip::tcp::socket sock;
    bool timed_out = false;
    bool header_done = false;        ///< incoming: the first bytes arrived (the header deadline is off)
    const char* closed_by = nullptr; ///< why the driver closed it early (drop code), if it did

    /// Closes the socket on the driver's behalf; a pending read completes with an error and the
    /// stream's coroutine reports `code`.
    void close_for(const char* code);
    /// The header deadline's completion handler: closes the stream unless its first bytes came.
    /// Bytes already waiting in the kernel count as arrived (a starved loop may run this handler
    /// before the read that would have taken them).
    std::function<void(const std::error_code&)> on_header_deadline();
    /// The deadline's completion handler.
    std::function<void(const std::error_code&)> on_deadline();
};

/// Reads one complete stream frame. The first byte is checked against what this node accepts
/// and the frame's declared length against the limit for its type before anything more is
/// buffered. For an incoming stream (`conn_id` != 0) every byte buffered, and for an
/// encrypted frame its whole declared length, is charged to the connection manager's buffer
/// budget first. An `incoming` stream first carries the dialler's label header (none when no
/// label is configured): a missing or different label fails with "label_mismatch" before any
/// frame is buffered. The caller owns `core` and `gs` for the whole await.
asio::awaitable<base::Result<base::Bytes>> read_frame(DriverCore& core, GuardedStream& gs,
                                                      std::uint64_t conn_id, bool incoming);

/// Serves one accepted stream registered with the connection manager as `id`: reads the
/// request, hands it to the host, writes the reply, then releases the slot.
asio::awaitable<void> serve_incoming(std::shared_ptr<DriverCore> core, std::shared_ptr<GuardedStream> stream,
                                     std::uint64_t id, swim::Address src);

/// Opens a stream to `t.to`, writes the transmit, reads the reply when one is expected, and
/// reports the reply or the failure to the host.
asio::awaitable<void> run_outgoing(std::shared_ptr<DriverCore> core, swim::Transmit t);

} // namespace clusterd::net
