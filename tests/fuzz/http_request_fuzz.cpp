// Fuzzes the HTTP request path: arbitrary bytes into http::Session, fed whole and in pieces whose
// size the first byte picks. Every request is answered (one path opens a stream), timeouts are
// ticked. Both feedings must write the same bytes; nothing may crash, hang, or hold more than
// the caps allow.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "clusterd/http/session.hpp"

using namespace clusterd;
using namespace clusterd::http;
using namespace std::chrono_literals;

namespace {

std::string drive(std::string_view bytes, std::size_t step) {
    Limits l;
    l.max_header_bytes = 512;
    l.max_request_bytes = 2048;
    l.max_stream_backlog = 4096;
    Session s(l, base::Instant{});
    std::string out;
    auto now = base::Instant{};
    for (std::size_t at = 0; at < bytes.size() && !s.done(); at += step) {
        s.feed(bytes.substr(at, std::min(step, bytes.size() - at)), now);
        while (auto req = s.take_request()) {
            if (req->body.size() > l.max_request_bytes)
                __builtin_trap();
            Response r;
            r.body =
                req->method + " " + req->path + " " + req->query + " " + std::to_string(req->body.size());
            if (req->path == "/s") {
                s.start_stream(r, now);
                s.stream_write(r.body);
            } else {
                s.respond(r, now);
            }
        }
        if (s.output().size() > l.max_output_backlog + 4 * l.max_request_bytes)
            __builtin_trap();
        out += s.output();
        s.consume(s.output().size());
    }
    s.tick(now + 1h); // whatever is half-received times out
    out += s.output();
    return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0)
        return 0;
    const std::size_t step = 1 + data[0] % 64;
    std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
    if (drive(bytes, bytes.size() + 1) != drive(bytes, step))
        __builtin_trap();
    return 0;
}
