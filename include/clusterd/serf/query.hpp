// Query helpers: Serf's default timeout formula, filter matching on the receiving side
// (node list exact; tag filters are UNANCHORED regex searches, as Serf's regexp.MatchString),
// and the origin's bookkeeping of acks and responses for one running query.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "clusterd/base/time.hpp"
#include "clusterd/serf/lamport.hpp"
#include "clusterd/wire/serf_messages.hpp"

namespace clusterd::serf {

inline constexpr int kQueryTimeoutMult = 16; ///< serf Config.QueryTimeoutMult

/// gossip_interval * mult * ceil(log10(members + 1)).
base::Duration default_query_timeout(base::Duration gossip_interval, std::size_t members,
                                     int mult = kQueryTimeoutMult);

/// Does a node named `node` with `tags` pass all filters? Tag filters are Go regexps searched
/// unanchored in the tag's value (RE2, clusterd/regex); a bad regex fails the filter.
bool filters_match(const std::vector<wire::QueryFilter>& filters, const std::string& node,
                   const std::map<std::string, std::string>& tags);

/// The origin's view of one query it started.
class QueryCollector {
  public:
    QueryCollector(LamportTime ltime, std::uint32_t id, base::Instant deadline, bool want_acks)
        : ltime_(ltime), id_(id), deadline_(deadline), want_acks_(want_acks) {}

    LamportTime ltime() const { return ltime_; }
    std::uint32_t id() const { return id_; }
    base::Instant deadline() const { return deadline_; }
    bool finished(base::Instant now) const { return now >= deadline_; }

    /// True the first time `from` acks (and acks were requested, and not finished).
    bool add_ack(const std::string& from, base::Instant now);
    /// True the first time `from` responds before the deadline; duplicates are counted.
    bool add_response(const std::string& from, base::Instant now);

    const std::set<std::string>& acks() const { return acks_; }
    const std::set<std::string>& responses() const { return responses_; }
    std::uint64_t duplicate_responses() const { return duplicates_; }

  private:
    LamportTime ltime_;
    std::uint32_t id_;
    base::Instant deadline_;
    bool want_acks_;
    std::set<std::string> acks_;
    std::set<std::string> responses_;
    std::uint64_t duplicates_ = 0;
};

} // namespace clusterd::serf
