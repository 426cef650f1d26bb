// Issue 18: Go's regexp semantics (RE2) in member and query filters, against the real serf.
// One cluster of two serf agents and two clusterd agents; the stock `serf members` CLI asks a
// serf agent and a clusterd agent the same filtered question over the same member list, and
// the answers must be equal. Queries with tag filters are evaluated by every node, and a serf
// node and a clusterd node with identical tags must both ack or both stay silent.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "support/cluster.hpp"

using namespace clusterd::testing;
using namespace std::chrono_literals;

namespace {

/// Names `serf members <filter> -format=json` lists through `via`, or the error when it failed.
std::string filtered(Cluster& c, const AgentProc& via, const std::vector<std::string>& filter) {
    std::vector<std::string> args{"members", "-format=json"};
    args.insert(args.end(), filter.begin(), filter.end());
    auto r = c.serf_cli(via, args, 10s);
    if (r.exit_code != 0)
        return "error";
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    if (j.is_discarded() || !j.contains("members"))
        return "unparsable: " + r.out;
    std::vector<std::string> names;
    for (const auto& m : j["members"])
        names.push_back(m.value("name", ""));
    std::sort(names.begin(), names.end());
    std::string out;
    for (const auto& n : names)
        out += n + " ";
    return out;
}

} // namespace

TEST(RegexInterop, MemberAndQueryFiltersMatchLikeSerf) {
    Cluster c("regex");
    // Pairs with identical tags: s-web/d-web and s-db/d-db.
    auto& sw = c.start(Kind::Serf, "s-web", {"-tag", "role=web-1", "-tag", "dc=eu-west"});
    auto& dw = c.start(Kind::Clusterd, "d-web", {"-tag", "role=web-1", "-tag", "dc=eu-west"}, &sw);
    c.start(Kind::Serf, "s-db", {"-tag", "role=DB", "-tag", "dc=us-2"}, &sw);
    c.start(Kind::Clusterd, "d-db", {"-tag", "role=DB"}, &sw);
    ASSERT_TRUE(c.wait_all_alive({"s-web", "d-web", "s-db", "d-db"}, 30s)) << c.dump();

    // Patterns where ECMAScript std::regex and Go's RE2 differ, or where Serf's "^expr$"
    // anchoring matters, plus plain ones. Every row must give the same names from both agents.
    const std::vector<std::vector<std::string>> table = {
        {"-name=s-.*"},
        {"-name=s|db"}, // ^s|db$: starts with s or ends with db
        {"-name=(?i)D-WEB"},
        {"-name=\\pL-\\w+"},
        {"-name=d-(?:web|db)"},
        {"-name=[[:alpha:]]-[[:alpha:]]{2}"},
        {"-name=\\Qs-web\\E"},
        {"-name=web"},
        {"-name=.*b\\z"},
        {"-status=alive"},
        {"-status=al.*|left"},
        {"-tag", "role=web-\\d"},
        {"-tag", "role=(?i)db"},
        {"-tag", "dc="},
        {"-tag", "dc=.*"},
        {"-tag", "dc=\\p{Ll}+-\\d"},
        {"-tag", "role=web-1", "-tag", "dc=eu-.*"},
        {"-name=d-.*", "-status=alive", "-tag", "role=(?U)D+"},
    };
    std::set<std::string> distinct;
    for (const auto& row : table) {
        std::string label;
        for (const auto& a : row)
            label += a + " ";
        const auto serf = filtered(c, sw, row);
        const auto ours = filtered(c, dw, row);
        EXPECT_EQ(ours, serf) << label;
        EXPECT_NE(serf.rfind("error", 0), 0u) << label; // every row is valid Go syntax
        distinct.insert(serf);
    }
    // The table discriminates: many different answers, not all empty or all members.
    EXPECT_GE(distinct.size(), 6u);

    // Patterns Go rejects: serf's agent logs the error (and closes the connection); clusterd
    // answers the same text as the request's error.
    for (const std::string bad : {"(abc", "a)", "[z-a]", "\\C", "(?<n>x)", "a**", "x{1001}"}) {
        auto theirs = c.serf_cli(sw, {"members", "-name=" + bad});
        EXPECT_NE(theirs.exit_code, 0) << bad;
        auto ours = c.serf_cli(dw, {"members", "-name=" + bad});
        EXPECT_NE(ours.exit_code, 0) << bad;
        const std::string both = ours.out + ours.err;
        const auto from = both.find("Failed to compile regex: ");
        ASSERT_NE(from, std::string::npos) << bad << ": " << both;
        const std::string msg = both.substr(from, both.find('\n', from) - from);
        EXPECT_TRUE(sw.child.wait_log("agent.ipc: Failed to evaluate request: " + msg, 5s))
            << bad << ": clusterd said " << msg << "\nserf log:\n"
            << sw.child.log();
    }

    // Query tag filters (unanchored regexp.MatchString on every receiving node). Pairs with
    // identical tags must agree; the expected responders are fixed by Go's semantics.
    struct Q {
        std::string filter;
        std::set<std::string> acks;
    };
    const std::vector<Q> queries = {
        {"role=web", {"s-web", "d-web"}},    {"role=^web$", {}}, {"role=(?i)^db$", {"s-db", "d-db"}},
        {"role=\\d\\z", {"s-web", "d-web"}}, {"role=\\C", {}},   {"dc=^\\pL+-", {"s-web", "d-web", "s-db"}},
    };
    for (const AgentProc* origin : {&sw, &dw}) {
        for (const auto& q : queries) {
            auto r = c.serf_cli(
                *origin, {"query", "-format=json", "-timeout=1500ms", "-tag", q.filter, "regex-probe", ""},
                20s);
            ASSERT_EQ(r.exit_code, 0) << q.filter << ": " << r.out << r.err;
            auto j = nlohmann::json::parse(r.out, nullptr, false);
            ASSERT_FALSE(j.is_discarded()) << r.out;
            std::set<std::string> acks;
            for (const auto& a : j["Acks"])
                acks.insert(a.get<std::string>());
            EXPECT_EQ(acks, q.acks) << "from " << origin->name << ", " << q.filter << ": " << r.out;
        }
    }
}
