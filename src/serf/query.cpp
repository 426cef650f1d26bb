// Query timeout formula, filter matching and the origin's response bookkeeping (see query.hpp).
#include "clusterd/serf/query.hpp"

#include <cmath>

#include "clusterd/regex/regex.hpp"

namespace clusterd::serf {

base::Duration default_query_timeout(base::Duration gossip_interval, std::size_t members, int mult) {
    auto factor = static_cast<std::int64_t>(std::ceil(std::log10(static_cast<double>(members) + 1.0)));
    return gossip_interval * mult * factor;
}

bool filters_match(const std::vector<wire::QueryFilter>& filters, const std::string& node,
                   const std::map<std::string, std::string>& tags) {
    for (const auto& f : filters) {
        if (const auto* nodes = std::get_if<wire::FilterNodes>(&f)) {
            bool found = false;
            for (const auto& n : nodes->nodes)
                if (n == node) {
                    found = true;
                    break;
                }
            if (!found)
                return false;
        } else {
            const auto& tag = std::get<wire::FilterTag>(f);
            auto it = tags.find(tag.tag);
            const std::string value = it == tags.end() ? std::string() : it->second;
            if (!regex::query_filter_matches(tag.expr, value))
                return false;
        }
    }
    return true;
}

bool QueryCollector::add_ack(const std::string& from, base::Instant now) {
    if (!want_acks_ || finished(now))
        return false;
    return acks_.insert(from).second;
}

bool QueryCollector::add_response(const std::string& from, base::Instant now) {
    if (finished(now))
        return false;
    if (!responses_.insert(from).second) {
        ++duplicates_;
        return false;
    }
    return true;
}

} // namespace clusterd::serf
