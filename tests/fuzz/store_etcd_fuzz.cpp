// Fuzzes the etcd adapter's answer decoding: arbitrary bytes as an HTTP response (fed whole and
// in pieces whose size the first byte picks; both must agree), then the body through every JSON
// decoder and the rows through parse_row. Nothing may crash, hang, or hold more than the cap.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "clusterd/store/etcd_codec.hpp"

using namespace clusterd;
using namespace clusterd::store;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0)
        return 0;
    constexpr std::size_t kCap = 1u << 16;
    const std::size_t step = 1 + data[0] % 64;
    std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);

    auto whole = etcd::decode_response(bytes, kCap);
    etcd::ResponseParser p(kCap);
    for (std::size_t at = 0; at < bytes.size() && p.state() == etcd::ResponseParser::State::NeedMore;
         at += step)
        p.feed(bytes.data() + at, std::min(step, bytes.size() - at));
    if (p.state() == etcd::ResponseParser::State::NeedMore)
        p.finish();
    const bool pieces_ok = p.state() == etcd::ResponseParser::State::Done;
    if (pieces_ok != whole.ok())
        __builtin_trap();
    if (!whole.ok())
        return 0;
    if (whole->body.size() > kCap || whole->body != p.response().body || whole->status != p.response().status)
        __builtin_trap();

    const std::string& body = whole->body;
    (void)etcd::http_error(*whole);
    (void)etcd::lease_not_found(*whole);
    if (auto kvs = etcd::decode_range(body); kvs.ok())
        for (const auto& row : etcd::rows_of("/p/nodes/", *kvs))
            (void)discovery::parse_row(row);
    if (auto txn = etcd::decode_txn(body); txn.ok() && txn->succeeded && !txn->kvs.empty())
        (void)etcd::decode_row("n", txn->kvs.front().value);
    (void)etcd::decode_lease_grant(body);
    (void)etcd::decode_keepalive(body);
    (void)discovery::parse_row(etcd::decode_row("n", body));
    (void)etcd::parse_url(std::string(body));
    return 0;
}
