// http::Session (include/clusterd/http/session.hpp): libhttp-parser frames the requests; this
// file bounds what it accumulates, keeps answers in order and applies the timeouts.
#include "clusterd/http/session.hpp"

#include <http_parser.h>

#include <algorithm>
#include <cctype>
#include <climits>

namespace clusterd::http {

struct Session::Parser {
    http_parser p{};
    http_parser_settings s{};
    std::size_t max_request = 0;
    Request cur;
    std::string field;
    std::string value;
    bool in_value = false;
    bool headers_done = false;
    bool complete = false;
    int error_status = 0; ///< set by a callback that paused the parser to refuse the request
    std::string error_detail;

    static Parser& of(http_parser* p) { return *static_cast<Parser*>(p->data); }

    void push_header() {
        if (field.empty() && value.empty())
            return;
        std::transform(field.begin(), field.end(), field.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        cur.headers.emplace_back(std::move(field), std::move(value));
        field.clear();
        value.clear();
        in_value = false;
    }

    void refuse(int status, std::string detail) {
        error_status = status;
        error_detail = std::move(detail);
        http_parser_pause(&p, 1);
    }

    Parser(std::size_t max_req) : max_request(max_req) {
        http_parser_init(&p, HTTP_REQUEST);
        p.data = this;
        s.on_message_begin = [](http_parser* hp) {
            auto& self = of(hp);
            self.cur = Request{};
            self.field.clear();
            self.value.clear();
            self.in_value = false;
            self.headers_done = false;
            self.complete = false;
            return 0;
        };
        s.on_url = [](http_parser* hp, const char* at, std::size_t n) {
            of(hp).cur.target.append(at, n);
            return 0;
        };
        s.on_header_field = [](http_parser* hp, const char* at, std::size_t n) {
            auto& self = of(hp);
            if (self.in_value)
                self.push_header();
            self.field.append(at, n);
            return 0;
        };
        s.on_header_value = [](http_parser* hp, const char* at, std::size_t n) {
            auto& self = of(hp);
            self.value.append(at, n);
            self.in_value = true;
            return 0;
        };
        s.on_headers_complete = [](http_parser* hp) {
            auto& self = of(hp);
            self.push_header();
            self.headers_done = true;
            auto& r = self.cur;
            r.method = http_method_str(static_cast<http_method>(hp->method));
            r.version_major = hp->http_major;
            r.version_minor = hp->http_minor;
            if (hp->http_major != 1) {
                self.refuse(505, "only HTTP/1.0 and HTTP/1.1 are served");
                return 0;
            }
            const auto q = r.target.find('?');
            r.path = r.target.substr(0, q);
            r.query = q == std::string::npos ? std::string{} : r.target.substr(q + 1);
            if (const auto hash = r.query.find('#'); hash != std::string::npos)
                r.query.resize(hash);
            if (r.path.empty() || r.path[0] != '/') {
                // absolute-form ("http://host/path") and authority-form targets are not served
                self.refuse(400, "the request target must be a path");
                return 0;
            }
            if (hp->content_length != ULLONG_MAX && hp->content_length > self.max_request)
                self.refuse(413,
                            "the request body is larger than " + std::to_string(self.max_request) + " bytes");
            return 0;
        };
        s.on_body = [](http_parser* hp, const char* at, std::size_t n) {
            auto& self = of(hp);
            if (self.cur.body.size() + n > self.max_request) {
                self.refuse(413,
                            "the request body is larger than " + std::to_string(self.max_request) + " bytes");
                return 0;
            }
            self.cur.body.append(at, n);
            return 0;
        };
        s.on_message_complete = [](http_parser* hp) {
            auto& self = of(hp);
            self.complete = true;
            self.cur.keep_alive = http_should_keep_alive(hp) != 0 && hp->upgrade == 0;
            http_parser_pause(hp, 1); // one request at a time: the rest waits for the answer
            return 0;
        };
    }
};

Session::Session(Limits limits, base::Instant now)
    : limits_(limits), parser_(std::make_unique<Parser>(limits.max_request_bytes)), last_activity_(now) {}

Session::~Session() = default;

void Session::feed(std::string_view data, base::Instant now) {
    feed(base::ByteView(reinterpret_cast<const std::uint8_t*>(data.data()), data.size()), now);
}

void Session::feed(base::ByteView data, base::Instant now) {
    if (state_ != State::Reading && state_ != State::Answering)
        return; // a streamed response or an ending connection: what the client sends is ignored
    in_.append(reinterpret_cast<const char*>(data.data()), data.size());
    pump(now);
}

void Session::pump(base::Instant now) {
    auto& P = *parser_;
    while (state_ == State::Reading && !ready_ && !in_.empty()) {
        if (!in_message_) {
            in_message_ = true;
            message_start_ = now;
            message_bytes_ = 0;
        }
        // Hand the parser no more than the cap allows, so a cap is enforced at its exact byte.
        const std::size_t cap = P.headers_done ? limits_.max_request_bytes : limits_.max_header_bytes;
        const std::size_t room = cap > message_bytes_ ? cap - message_bytes_ : 0;
        const std::size_t chunk = std::min(in_.size(), room);
        const std::size_t n = chunk == 0 ? 0 : http_parser_execute(&P.p, &P.s, in_.data(), chunk);
        message_bytes_ += n;
        in_.erase(0, n);
        const auto err = HTTP_PARSER_ERRNO(&P.p);
        if (err == HPE_PAUSED) {
            http_parser_pause(&P.p, 0);
            if (P.error_status != 0)
                return fail(P.error_status, P.error_detail);
            if (P.complete) {
                P.complete = false;
                P.headers_done = false;
                in_message_ = false;
                ++counters_.requests;
                ready_ = std::move(P.cur);
                P.cur = Request{};
            }
            continue;
        }
        if (err != HPE_OK) {
            // The parser cannot tell an unknown method from a garbled request line: both are 400.
            return fail(err == HPE_HEADER_OVERFLOW ? 431 : 400, http_errno_description(err));
        }
        if (!P.headers_done && message_bytes_ >= limits_.max_header_bytes)
            return fail(431, "the request line and headers are larger than " +
                                 std::to_string(limits_.max_header_bytes) + " bytes");
        if (P.headers_done && message_bytes_ >= limits_.max_request_bytes)
            return fail(413,
                        "the request is larger than " + std::to_string(limits_.max_request_bytes) + " bytes");
        if (n < chunk)
            return fail(400, "malformed request"); // the parser stopped without saying why
    }
}

void Session::fail(int status, std::string_view detail) {
    if (status == 413 || status == 431)
        ++counters_.too_large;
    else if (status == 408)
        ++counters_.timed_out;
    else
        ++counters_.bad_requests;
    const Response r = error_response(status, detail);
    write_head(r, false, r.body.size());
    out_ += r.body;
    in_.clear();
    ready_.reset();
    in_message_ = false;
    state_ = State::Closing;
}

std::optional<Request> Session::take_request() {
    if (!ready_ || state_ != State::Reading)
        return std::nullopt;
    std::optional<Request> r = std::move(ready_);
    ready_.reset();
    answer_head_ = r->method == "HEAD";
    answer_keep_alive_ = r->keep_alive;
    state_ = State::Answering;
    return r;
}

void Session::respond(const Response& r, base::Instant now) {
    if (state_ != State::Answering)
        return;
    const bool keep = answer_keep_alive_;
    write_head(r, keep, r.body.size());
    if (!answer_head_)
        out_ += r.body;
    last_activity_ = now;
    state_ = keep ? State::Reading : State::Closing;
    if (!keep)
        in_.clear();
    pump(now);
}

void Session::start_stream(const Response& r, base::Instant now) {
    if (state_ != State::Answering)
        return;
    write_head(r, false, std::nullopt);
    last_activity_ = now;
    in_.clear();
    state_ = answer_head_ ? State::Closing : State::Streaming;
}

bool Session::stream_write(std::string_view chunk) {
    if (state_ != State::Streaming)
        return false;
    if (out_.size() + chunk.size() > limits_.max_stream_backlog) {
        ++counters_.stream_dropped;
        state_ = State::Closed;
        out_.clear();
        return false;
    }
    out_.append(chunk);
    return true;
}

void Session::consume(std::size_t n) {
    out_.erase(0, std::min(n, out_.size()));
}

bool Session::wants_input() const {
    switch (state_) {
    case State::Reading:
    case State::Answering:
        return in_.size() < limits_.max_request_bytes && out_.size() < limits_.max_output_backlog;
    case State::Streaming:
        return true; // to notice the client leaving; what it sends is dropped
    case State::Closing:
    case State::Closed:
        break;
    }
    return false;
}

bool Session::done() const {
    return state_ == State::Closed || (state_ == State::Closing && out_.empty());
}

bool Session::idle() const {
    return state_ == State::Reading && !in_message_ && in_.empty() && !ready_ && out_.empty();
}

std::optional<base::Instant> Session::next_deadline() const {
    if (state_ != State::Reading)
        return std::nullopt;
    if (in_message_)
        return message_start_ + limits_.request_timeout;
    if (idle())
        return last_activity_ + limits_.idle_timeout;
    return std::nullopt;
}

void Session::tick(base::Instant now) {
    if (state_ != State::Reading)
        return;
    if (in_message_ && now >= message_start_ + limits_.request_timeout)
        return fail(408, "the request did not arrive in time");
    if (idle() && now >= last_activity_ + limits_.idle_timeout) {
        ++counters_.timed_out;
        state_ = State::Closed;
    }
}

void Session::write_head(const Response& r, bool keep_alive, std::optional<std::size_t> length) {
    auto clean = [](std::string_view s) {
        std::string out(s);
        std::erase_if(out, [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
        return out;
    };
    out_ += "HTTP/1.1 " + std::to_string(r.status) + " " + std::string(status_text(r.status)) + "\r\n";
    if (!r.content_type.empty())
        out_ += "Content-Type: " + clean(r.content_type) + "\r\n";
    if (length)
        out_ += "Content-Length: " + std::to_string(*length) + "\r\n";
    out_ += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
    bool cache_set = false;
    for (const auto& [k, v] : r.headers) {
        std::string name = clean(k);
        std::string lower = name;
        std::transform(lower.begin(), lower.end(), lower.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        cache_set = cache_set || lower == "cache-control";
        out_ += name + ": " + clean(v) + "\r\n";
    }
    if (!cache_set)
        out_ += "Cache-Control: no-store\r\n";
    out_ += "X-Content-Type-Options: nosniff\r\n\r\n";
}

} // namespace clusterd::http
