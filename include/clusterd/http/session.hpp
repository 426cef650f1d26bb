// http::Session: one HTTP/1.1 server connection as a sans-IO state machine. Bytes go in with
// feed(), complete requests come out one at a time with take_request(), answers go in with
// respond() or start_stream(), and the bytes to send come out of output(). Time enters as an
// Instant argument; the owner arms a timer for next_deadline() and calls tick().
//
// Framing is libhttp-parser's (private to src/http/session.cpp). The session bounds what a
// client may make it hold: the header block (431), the whole request (413), a request that
// does not arrive in time (408), an idle keep-alive connection (closed), a streamed response
// the client does not read (dropped). A request it cannot parse is answered 400 (a version
// other than 1.x 505) and the connection closes after the answer.
// Pipelined requests are parsed one after another, each only once the previous one has been
// answered, so answers go out in order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "clusterd/base/bytes.hpp"
#include "clusterd/base/time.hpp"
#include "clusterd/http/message.hpp"

namespace clusterd::http {

struct Limits {
    std::size_t max_header_bytes = 8 * 1024;   ///< request line + headers (431 beyond)
    std::size_t max_request_bytes = 64 * 1024; ///< headers + body (413 beyond)
    /// Bytes queued and not yet written before the session stops taking requests (backpressure:
    /// wants_input() turns false) — a client that pipelines without reading.
    std::size_t max_output_backlog = 1024 * 1024;
    /// Bytes a streamed response (SSE) may have queued; beyond it the client is dropped.
    std::size_t max_stream_backlog = 256 * 1024;
    /// From the first byte of a request to its last (slow clients, slowloris): 408 and close.
    base::Duration request_timeout = std::chrono::seconds(10);
    /// A keep-alive connection with no request in progress and nothing to send is closed.
    base::Duration idle_timeout = std::chrono::seconds(60);
};

struct SessionCounters {
    std::uint64_t requests = 0;     ///< complete requests handed out
    std::uint64_t bad_requests = 0; ///< answered 400/505 by the session
    std::uint64_t too_large = 0;    ///< 413 and 431
    std::uint64_t timed_out = 0;    ///< 408 (request) and idle closes
    std::uint64_t stream_dropped = 0;
};

class Session {
  public:
    enum class State {
        Reading,   ///< between or inside requests
        Answering, ///< a request was taken and waits for respond()/start_stream()
        Streaming, ///< a streamed response is open
        Closing,   ///< write what is queued, then close
        Closed,    ///< close now, drop what is queued
    };

    explicit Session(Limits limits, base::Instant now);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    /// Bytes from the client. Parses until a request is complete (or an error is answered).
    void feed(base::ByteView data, base::Instant now);
    void feed(std::string_view data, base::Instant now);
    /// The next complete request, if one is ready; the session then waits for its answer.
    std::optional<Request> take_request();
    /// Answers the request last taken (HEAD gets the headers only). Parsing resumes with any
    /// pipelined bytes already received.
    void respond(const Response& r, base::Instant now);
    /// Answers the request last taken with the headers of a streamed body; stream_write() adds
    /// to the body until the connection ends.
    void start_stream(const Response& r, base::Instant now);
    /// Appends to the streamed body; false (and Closed) when the client has more than
    /// max_stream_backlog bytes unread, or when no stream is open.
    bool stream_write(std::string_view chunk);

    /// Bytes to send; consume(n) once n of them are written.
    std::string_view output() const { return out_; }
    void consume(std::size_t n);
    /// Whether the owner should read more bytes (false while answers pile up unread or when the
    /// connection is ending).
    bool wants_input() const;
    /// The connection should be closed now (Closed, or Closing with everything written).
    bool done() const;
    State state() const { return state_; }
    /// No request in progress and nothing queued: a keep-alive connection between requests.
    bool idle() const;

    /// The earliest time tick() has something to do (nullopt: none).
    std::optional<base::Instant> next_deadline() const;
    /// Applies the request and idle timeouts.
    void tick(base::Instant now);

    const SessionCounters& counters() const { return counters_; }

    struct Parser; // private: libhttp-parser state and callbacks

  private:
    void pump(base::Instant now);
    void fail(int status, std::string_view detail);
    void write_head(const Response& r, bool keep_alive, std::optional<std::size_t> length);

    Limits limits_;
    std::unique_ptr<Parser> parser_;
    State state_ = State::Reading;
    std::string in_;  ///< received, not yet parsed
    std::string out_; ///< to send
    std::optional<Request> ready_;
    bool answer_head_ = false;      ///< the request being answered is HEAD
    bool answer_keep_alive_ = true; ///< the request being answered allows keep-alive
    bool in_message_ = false;       ///< some bytes of a request have been parsed
    base::Instant message_start_{}; ///< when its first byte arrived
    base::Instant last_activity_{}; ///< connection open or last answer
    std::size_t message_bytes_ = 0; ///< bytes of the current request parsed so far
    SessionCounters counters_;
};

} // namespace clusterd::http
