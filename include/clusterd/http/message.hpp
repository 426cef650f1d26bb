// HTTP/1.1 requests and responses as the listener hands them to the agent, and the small pure
// helpers the routes share: status texts, escaping for HTML and JSON strings, the query string,
// the bearer-token check (constant time). Pure: no sockets, no clock.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "clusterd/base/text.hpp"

namespace clusterd::http {

struct Request {
    std::string method; ///< "GET", "HEAD", "POST", ... (as the parser names it)
    std::string target; ///< the request target as sent ("/cluster?status=alive")
    std::string path;   ///< the path part of the target, not decoded ("/cluster")
    std::string query;  ///< the query part without '?', not decoded ("status=alive")
    std::vector<std::pair<std::string, std::string>> headers; ///< names lower-cased, in order
    std::string body;
    int version_major = 1, version_minor = 1;
    bool keep_alive = true; ///< what the client asked for (HTTP/1.0 defaults to close)

    /// The first header of that (lower-case) name.
    const std::string* header(std::string_view lower_name) const;
    /// The first value of a query parameter, percent-decoded ('+' is a space).
    std::optional<std::string> query_param(std::string_view name) const;
};

/// Where a streamed body (Server-Sent Events) is written. Lives as long as anyone holds it;
/// write() answers false once the connection is gone or was dropped for reading too slowly.
class StreamSink {
  public:
    virtual ~StreamSink() = default;
    virtual bool write(std::string_view chunk) = 0;
    virtual bool open() const = 0;
};

struct Response {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers; ///< extra headers
    /// Set for a streamed body (SSE): the headers go out without a length, the connection ends
    /// with the stream. Called once the headers are queued, with the sink to write to; the
    /// function it returns runs when the stream ends (client gone, dropped, listener stopped).
    std::function<std::function<void()>(std::shared_ptr<StreamSink>)> stream;
};

/// "OK", "Not Found", ... ("Unknown" for a code not listed).
std::string_view status_text(int status);
/// A plain-text response "<code> <text>\n" (plus `detail` on a line of its own).
Response error_response(int status, std::string_view detail = {});

/// Escapes & < > " ' for HTML text and attribute values.
std::string html_escape(std::string_view s);
/// A JSON string literal (with quotes). Bytes that are not valid UTF-8 become U+FFFD; '<', '>'
/// and '&' are written as \u escapes so the text can sit inside an HTML <script> block.
std::string json_quote(std::string_view s);
/// Percent-decoding of a query component ('+' is a space); a bad escape is kept as is.
std::string percent_decode(std::string_view s);

/// Equal in time that depends only on the lengths, not on where the bytes differ.
using base::constant_time_equal;
/// True when `token` is empty, or the request carries it as `Authorization: Bearer <token>`
/// or as the `clusterd_token` cookie (set by the status page's login redirect).
bool authorized(const Request& req, std::string_view token);

/// Path -> handler for GET (and HEAD, answered from the same handler). An unknown path is 404,
/// another method on a known path 405 with an Allow header.
class Router {
  public:
    using Handler = std::function<Response(const Request&)>;
    void get(std::string path, Handler h);
    Response route(const Request& req) const;

  private:
    std::vector<std::pair<std::string, Handler>> routes_;
};

} // namespace clusterd::http
