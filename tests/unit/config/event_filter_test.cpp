// Serf's event-handler spec syntax: every form Serf accepts, and the invalid ones.
#include <gtest/gtest.h>

#include "clusterd/config/event_filter.hpp"

using namespace clusterd::config;

namespace {
std::vector<HandlerSpec> parse_ok(const std::string& s) {
    auto r = parse_handler_spec(s);
    EXPECT_TRUE(r.ok()) << s << ": " << (r.ok() ? "" : r.error().message);
    return r.ok() ? *r : std::vector<HandlerSpec>{};
}
} // namespace

TEST(HandlerSpec, BareScriptMeansAllEvents) {
    auto v = parse_ok("/usr/bin/handler.sh");
    ASSERT_EQ(v.size(), 1u);
    EXPECT_EQ(v[0], (HandlerSpec{{"*", ""}, "/usr/bin/handler.sh"}));
    EXPECT_EQ(handler_stats_key(v[0]), "*:");
}

TEST(HandlerSpec, SingleAndMultipleTypes) {
    auto v = parse_ok("member-join=join.sh");
    ASSERT_EQ(v.size(), 1u);
    EXPECT_EQ(v[0], (HandlerSpec{{"member-join", ""}, "join.sh"}));
    v = parse_ok("member-join,member-leave=x.sh");
    ASSERT_EQ(v.size(), 2u);
    EXPECT_EQ(v[0].filter.event, "member-join");
    EXPECT_EQ(v[1].filter.event, "member-leave");
    EXPECT_EQ(v[1].script, "x.sh");
}

TEST(HandlerSpec, UserAndQueryNames) {
    auto v = parse_ok("user:deploy=d.sh");
    ASSERT_EQ(v.size(), 1u);
    EXPECT_EQ(v[0].filter, (EventFilter{"user", "deploy"}));
    EXPECT_EQ(handler_stats_key(v[0]), "user:deploy");
    v = parse_ok("query:load=q.sh");
    EXPECT_EQ(v[0].filter, (EventFilter{"query", "load"}));
    v = parse_ok("user=u.sh");
    EXPECT_EQ(v[0].filter, (EventFilter{"user", ""}));
    v = parse_ok("query=q.sh");
    EXPECT_EQ(v[0].filter, (EventFilter{"query", ""}));
    v = parse_ok("*=all.sh");
    EXPECT_EQ(v[0].filter, (EventFilter{"*", ""}));
}

TEST(HandlerSpec, KongSpec) {
    auto v = parse_ok(
        "member-join,member-leave,member-failed,member-update,member-reap,user:kong=/x/serf_event.sh");
    ASSERT_EQ(v.size(), 6u);
    EXPECT_EQ(v[5].filter, (EventFilter{"user", "kong"}));
    for (const auto& s : v)
        EXPECT_EQ(s.script, "/x/serf_event.sh");
}

TEST(HandlerSpec, ScriptKeepsLaterEqualsSigns) {
    auto v = parse_ok("user=FOO=bar ./x.sh");
    ASSERT_EQ(v.size(), 1u);
    EXPECT_EQ(v[0].script, "FOO=bar ./x.sh");
}

TEST(HandlerSpec, InvalidSpecsAreClearErrors) {
    for (const char* bad :
         {"member-joined=x.sh", "foo=x.sh", "member-join,,member-leave=x", "member-join=", "", "users:x=y"}) {
        auto r = parse_handler_spec(bad);
        ASSERT_FALSE(r.ok()) << bad;
        EXPECT_NE(r.error().message.find("Invalid event script"), std::string::npos) << r.error().message;
    }
    auto r = parse_handler_spec("member-joined=x.sh");
    EXPECT_NE(r.error().message.find("member-joined"), std::string::npos);
}

TEST(EventFilter, EmptyIsEverything) {
    auto f = parse_event_filter("");
    ASSERT_TRUE(f.ok());
    ASSERT_EQ(f->size(), 1u);
    EXPECT_EQ((*f)[0].event, "*");
    EXPECT_FALSE(parse_event_filter("member-join,bogus").ok());
}
