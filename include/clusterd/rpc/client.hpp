// rpc::Client: a blocking IPC v1 client for the CLI (one request at a time, plus reading stream
// records). Plain POSIX sockets with poll() deadlines; connects, handshakes, and authenticates when
// given a token, exactly as Serf's Go client does.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "clusterd/base/result.hpp"
#include "clusterd/rpc/protocol.hpp"

namespace clusterd::rpc {

/// One reply: the header's error string and, when the command has one, the decoded body.
struct Reply {
    std::uint64_t seq = 0;
    std::string error;
    std::optional<Body> body;
};

class Client {
  public:
    /// Connects to "host:port", performs the handshake, then `auth` if `auth_key` is non-empty.
    /// Transport failures read like Go's ("dial tcp 127.0.0.1:7373: connect: connection refused").
    static base::Result<std::unique_ptr<Client>> connect(const std::string& addr, const std::string& auth_key,
                                                         base::Duration timeout = std::chrono::seconds(10));
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    /// Sends a request and waits for its reply. `body` may be null (no request body);
    /// `reply_has_body` says whether the agent sends a body after the header (Serf does even on
    /// error, except for "Authentication required").
    base::Result<Reply> call(std::string_view command, const base::Bytes* body, bool reply_has_body);

    /// call() with a typed request body.
    template <typename Req>
    base::Result<Reply> request(std::string_view command, const Req& req, bool reply_has_body) {
        base::Bytes b;
        encode(b, req);
        return call(command, static_cast<const base::Bytes*>(&b), reply_has_body);
    }

    /// Starts a stream-like command (stream, monitor, query): returns its seq once the agent
    /// accepted it, or the agent's error as an Error with code "rpc".
    base::Result<std::uint64_t> start_stream(std::string_view command, const base::Bytes& body);
    /// Waits for the next stream record (any stream on this connection) until `timeout`
    /// (negative = forever). Error code "timeout" when nothing came, "closed" on EOF.
    base::Result<Reply> next_record(base::Duration timeout);
    /// Sends `stop` for a stream without waiting for the reply.
    base::Status stop_stream(std::uint64_t seq);

    std::uint64_t next_seq() { return ++seq_; }

  private:
    explicit Client(int fd, base::Duration timeout) : fd_(fd), timeout_(timeout) {}
    base::Status send_all(const base::Bytes& b);
    /// Reads one msgpack object; timeout < 0 waits forever.
    base::Result<Body> read_object(base::Duration timeout);
    base::Result<Reply> read_reply_for(std::uint64_t seq, bool has_body);

    int fd_ = -1;
    base::Duration timeout_;
    std::uint64_t seq_ = 0;
    base::Bytes in_;
    std::vector<std::uint64_t> streams_;
    std::vector<Reply> stashed_; ///< records that arrived while waiting for a reply
};

} // namespace clusterd::rpc
