// Session handlers of the cluster family: handshake, auth, members, join/leave, tags, user
// events, stats, coordinates and clusterd's store-list.
#include <optional>
#include <string_view>
#include <utility>

#include "clusterd/regex/regex.hpp"
#include "clusterd/rpc/session.hpp"

namespace clusterd::rpc {

bool Session::on_handshake(std::uint64_t seq, const HandshakeRequest& req) {
    if (req.version < kIpcVersion || req.version > kIpcVersion) {
        reply(seq, err::kUnsupportedIpcVersion);
    } else if (version_ != 0) {
        reply(seq, err::kDuplicateHandshake);
    } else {
        version_ = req.version;
        reply(seq, "");
    }
    return true;
}

bool Session::on_auth(std::uint64_t seq, const AuthRequest& req) {
    if (constant_time_equal(req.auth_key, cfg_.auth_key)) {
        authed_ = true;
        reply(seq, "");
        return true;
    }
    ++counters_.auth_failures;
    reply(seq, err::kInvalidAuthToken);
    if (cfg_.max_auth_failures > 0 &&
        counters_.auth_failures >= static_cast<std::uint64_t>(cfg_.max_auth_failures)) {
        close("too many invalid authentication tokens");
        return false;
    }
    return true;
}

namespace {

/// The last unfiltered `members` answer, encoded, kept under the agent's members version
/// (AgentApi::members_version: it changes with every visible membership change and is never
/// reused). Polling clients (Kong asks `members` over and over on a quiet cluster) then cost a
/// number compare instead of building and encoding the list. Only the encoded answer is kept
/// (its bytes, trimmed to size: ~100 bytes a member), not the decoded list it was made from.
/// One per thread: the daemon runs one io_context thread.
struct MembersBodyCache {
    std::uint64_t version = 0;
    base::Bytes body;
};

const base::Bytes& encoded_members(AgentApi& agent) {
    static thread_local MembersBodyCache cache;
    const std::uint64_t version = agent.members_version();
    if (version != 0 && cache.version == version)
        return cache.body;
    MembersResponse resp;
    resp.members = agent.members();
    cache.body.clear();
    encode(cache.body, resp);
    cache.body.shrink_to_fit();
    cache.version = version;
    return cache.body;
}

} // namespace

bool Session::on_members(std::uint64_t seq, const NoBody&) {
    reply(seq, "", encoded_members(agent_));
    return true;
}

bool Session::on_members_filtered(std::uint64_t seq, const MembersFilteredRequest& req) {
    // Serf's filterMembers: every expression compiled as ^expr$ (RE2, Go's syntax) before any
    // member is looked at; a bad one fails the whole request with Serf's text. Serf then closes
    // the connection (its CLI prints "client closed"); clusterd answers the error instead.
    MembersResponse resp;
    std::string error;
    std::vector<std::pair<std::string, regex::Regex>> tag_re;
    std::optional<regex::Regex> status_re, name_re;
    auto compile = [&](const std::string& expr) -> std::optional<regex::Regex> {
        auto r = regex::compile_member_filter(expr);
        if (!r.ok()) {
            if (error.empty())
                error = r.error().message;
            return std::nullopt;
        }
        return std::move(r).value();
    };
    for (const auto& [k, expr] : req.tags)
        if (auto re = compile(expr))
            tag_re.emplace_back(k, std::move(*re));
    status_re = compile(req.status);
    name_re = compile(req.name);
    if (error.empty()) {
        for (auto& m : agent_.members()) {
            bool ok = true;
            for (const auto& [k, re] : tag_re) {
                auto it = m.tags.find(k);
                if (!re.search(it == m.tags.end() ? std::string_view() : std::string_view(it->second))) {
                    ok = false;
                    break;
                }
            }
            if (ok && !req.status.empty() && !status_re->search(m.status))
                ok = false;
            if (ok && !req.name.empty() && !name_re->search(m.name))
                ok = false;
            if (ok)
                resp.members.push_back(std::move(m));
        }
    }
    base::Bytes b;
    encode(b, resp);
    reply(seq, error, b);
    return !closing_;
}

bool Session::on_join(std::uint64_t seq, const JoinRequest& req) {
    busy_ = true;
    std::weak_ptr<int> w = life_;
    agent_.join(req.existing, req.replay, [w, this, seq](int n, const std::string& e) {
        if (w.expired())
            return;
        base::Bytes b;
        encode(b, JoinResponse{static_cast<std::int32_t>(n)});
        reply(seq, e, b);
        finish_async();
    });
    return true;
}

bool Session::on_leave(std::uint64_t seq, const NoBody&) {
    busy_ = true;
    std::weak_ptr<int> w = life_;
    agent_.leave([w, this, seq](const std::string& e) {
        if (w.expired())
            return;
        reply(seq, e);
        // The connection stays open: the agent's shutdown closes it. Closing it here races
        // with Serf's Go client, which may then report "client closed" instead of the reply.
        leave_replied_ = e.empty();
        finish_async();
    });
    return true;
}

bool Session::on_force_leave(std::uint64_t seq, const ForceLeaveRequest& req) {
    agent_.force_leave(req.node, req.prune, reply_later(seq));
    return true;
}

bool Session::on_tags(std::uint64_t seq, const TagsRequest& req) {
    agent_.set_tags(req.tags, req.delete_tags, reply_later(seq));
    return true;
}

bool Session::on_event(std::uint64_t seq, const EventRequest& req) {
    agent_.user_event(req.name, req.payload, req.coalesce, reply_later(seq));
    return true;
}

bool Session::on_stats(std::uint64_t seq, const NoBody&) {
    base::Bytes b;
    encode(b, agent_.stats());
    reply(seq, "", b);
    return true;
}

bool Session::on_get_coordinate(std::uint64_t seq, const CoordinateRequest& req) {
    CoordinateResponse resp;
    if (auto co = agent_.get_coordinate(req.node)) {
        resp.coord = *co;
        resp.ok = true;
    }
    base::Bytes b;
    encode(b, resp);
    reply(seq, "", b);
    return true;
}

bool Session::on_store_list(std::uint64_t seq, const NoBody&) {
    busy_ = true;
    std::weak_ptr<int> w = life_;
    agent_.store_list([w, this, seq](const std::string& e, const StoreListing& listing) {
        if (w.expired())
            return;
        base::Bytes b;
        encode(b, listing);
        reply(seq, e, b);
        finish_async();
    });
    return true;
}

} // namespace clusterd::rpc
