// Serf message codecs (serf/messages.go structs, serf.go userEvent(s)/Member/encodeTags,
// internal_query.go nodeKeyResponse, keymanager.go keyRequest) and size-limit checks.
#include "clusterd/wire/serf_messages.hpp"

#include <optional>
#include <type_traits>

#include "wire_internal.hpp"

namespace clusterd::wire {

using namespace detail; // wire_internal.hpp

namespace {
using StringList = msgpack::Codec<std::vector<std::string>>;
using StringMap = msgpack::Codec<std::map<std::string, std::string>>;

} // namespace

SerfMsgType serf_message_type(const SerfMessage& m) {
    return msgpack::type_of(m);
}

Bytes encode_serf(const SerfMessage& m) {
    Bytes out;
    out.push_back(static_cast<std::uint8_t>(serf_message_type(m)));
    std::visit(
        [&](const auto& v) {
            msgpack::encode_into(out, v, kGossip);
            if constexpr (std::is_same_v<std::decay_t<decltype(v)>, SerfRelay>)
                out.insert(out.end(), v.inner.begin(), v.inner.end());
        },
        m);
    return out;
}

Result<SerfMessage> decode_serf(ByteView buf) {
    if (buf.empty())
        return make_error("truncated", "empty serf message");
    std::optional<Result<SerfMessage>> out;
    msgpack::with_type<SerfMessage>(buf[0], [&](auto type) {
        using T = typename decltype(type)::type;
        msgpack::Reader r(buf.subspan(1));
        T m{};
        const std::string what = "serf message " + std::to_string(buf[0]);
        if (auto st = msgpack::read(r, m); !st) {
            out = st.error().with_prefix(what);
            return;
        }
        if constexpr (std::is_same_v<T, SerfRelay>) {
            if (r.at_end()) {
                out = make_error("truncated", what + ": relay message without an inner message");
                return;
            }
            m.inner.assign(r.rest().begin(), r.rest().end());
        }
        out = SerfMessage{std::move(m)};
    });
    if (out)
        return std::move(*out);
    return make_error("unknown_type", "unknown serf message type " + std::to_string(buf[0]));
}

// ---------------- filters ----------------

Bytes encode_filter(const QueryFilter& f) {
    Bytes out;
    msgpack::Writer w(out, kGossip);
    if (const auto* n = std::get_if<FilterNodes>(&f)) {
        out.push_back(0);
        StringList::write(w, n->nodes, msgpack::kNilIfEmpty);
    } else {
        out.push_back(1);
        msgpack::write(w, std::get<FilterTag>(f));
    }
    return out;
}

Result<QueryFilter> decode_filter(ByteView buf) {
    if (buf.empty())
        return make_error("truncated", "empty query filter");
    msgpack::Reader r(buf.subspan(1));
    if (buf[0] == 0) {
        FilterNodes n;
        if (auto st = StringList::read(r, n.nodes); !st)
            return st.error().with_prefix("node filter");
        return QueryFilter{std::move(n)};
    }
    if (buf[0] == 1) {
        FilterTag t;
        if (auto st = msgpack::read(r, t); !st)
            return st.error().with_prefix("tag filter");
        return QueryFilter{std::move(t)};
    }
    return make_error("unknown_type", "unknown query filter type " + std::to_string(buf[0]));
}

// ---------------- tags ----------------

Bytes encode_tags(const std::map<std::string, std::string>& tags) {
    Bytes out{kTagMagicByte};
    msgpack::Writer w(out, kGossip);
    StringMap::write(w, tags, msgpack::kPlain);
    return out;
}

Bytes encode_tags_legacy(const std::map<std::string, std::string>& tags) {
    auto it = tags.find("role");
    return it == tags.end() ? Bytes{} : base::to_bytes(it->second);
}

Result<std::map<std::string, std::string>> decode_tags(ByteView meta) {
    if (meta.empty() || meta[0] != kTagMagicByte) {
        return std::map<std::string, std::string>{{"role", base::to_string(meta)}};
    }
    msgpack::Reader r(meta.subspan(1));
    std::map<std::string, std::string> m;
    if (auto st = StringMap::read(r, m); !st)
        return st.error().with_prefix("tags");
    return m;
}

// ---------------- limits ----------------

base::Status check_user_event_size(const std::string& name, ByteView payload, std::size_t configured_limit) {
    std::size_t n = name.size() + payload.size();
    if (n > configured_limit)
        return make_error("too_large", "user event exceeds configured limit of " +
                                           std::to_string(configured_limit) + " bytes before encoding");
    if (n > kUserEventSizeLimitMax)
        return make_error("too_large", "user event exceeds sane limit of " +
                                           std::to_string(kUserEventSizeLimitMax) + " bytes before encoding");
    return base::ok_status();
}

base::Status check_encoded_user_event_size(std::size_t encoded_len, std::size_t configured_limit) {
    if (encoded_len > configured_limit)
        return make_error("too_large", "encoded user event exceeds configured limit of " +
                                           std::to_string(configured_limit) + " bytes after encoding");
    if (encoded_len > kUserEventSizeLimitMax)
        return make_error("too_large", "encoded user event exceeds sane limit of " +
                                           std::to_string(kUserEventSizeLimitMax) + " bytes before encoding");
    return base::ok_status();
}

base::Status check_query_size(std::size_t encoded_len, std::size_t limit) {
    if (encoded_len > limit)
        return make_error("too_large", "query exceeds limit of " + std::to_string(limit) + " bytes");
    return base::ok_status();
}

base::Status check_query_response_size(std::size_t encoded_len, std::size_t limit) {
    if (encoded_len > limit)
        return make_error("too_large", "response exceeds limit of " + std::to_string(limit) + " bytes");
    return base::ok_status();
}

base::Status check_tags_size(std::size_t encoded_len) {
    if (encoded_len > kMetaMaxSize)
        return make_error("too_large", "Encoded length of tags exceeds limit of " +
                                           std::to_string(kMetaMaxSize) + " bytes");
    return base::ok_status();
}

} // namespace clusterd::wire
