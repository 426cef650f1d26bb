// Handler matching and the exact environment / stdin a handler gets for each event type.
#include "clusterd/agent/handlers.hpp"

#include <gtest/gtest.h>

#include <algorithm>

using namespace clusterd::agent;

namespace {

HandlerEvent member_event(HandlerEventKind kind) {
    HandlerEvent e;
    e.kind = kind;
    e.members.push_back({"node-b", "127.0.0.2", {{"role", "web"}, {"dc", "east"}}});
    e.members.push_back({"node-c", "10.0.0.3", {}});
    return e;
}

HandlerEvent user_event(const std::string& name, const std::string& payload, std::uint64_t ltime) {
    HandlerEvent e;
    e.kind = HandlerEventKind::User;
    e.name = name;
    e.payload = payload;
    e.ltime = ltime;
    return e;
}

HandlerEvent query_event(const std::string& name, const std::string& payload, std::uint64_t ltime) {
    HandlerEvent e = user_event(name, payload, ltime);
    e.kind = HandlerEventKind::Query;
    e.query_id = 77;
    return e;
}

bool matches(const std::string& spec, const HandlerEvent& e) {
    auto parsed = clusterd::config::parse_handler_spec(spec);
    EXPECT_TRUE(parsed.ok()) << spec;
    for (const auto& s : *parsed)
        if (filter_matches(s.filter, e))
            return true;
    return false;
}

const HandlerSelf kSelf{"node-a", {{"role", "lb"}, {"dc-zone", "z1"}, {"x.y", "1"}}};

} // namespace

TEST(HandlerFilter, EachForm) {
    const auto join = member_event(HandlerEventKind::MemberJoin);
    const auto leave = member_event(HandlerEventKind::MemberLeave);
    const auto failed = member_event(HandlerEventKind::MemberFailed);
    const auto update = member_event(HandlerEventKind::MemberUpdate);
    const auto reap = member_event(HandlerEventKind::MemberReap);
    const auto deploy = user_event("deploy", "v1", 3);
    const auto other = user_event("other", "", 4);
    const auto q = query_event("load", "", 5);

    for (const auto* e : {&join, &leave, &failed, &update, &reap, &deploy, &other, &q}) {
        EXPECT_TRUE(matches("script.sh", *e));
        EXPECT_TRUE(matches("*=script.sh", *e));
    }
    EXPECT_TRUE(matches("member-join=s", join));
    EXPECT_FALSE(matches("member-join=s", leave));
    EXPECT_TRUE(matches("member-leave=s", leave));
    EXPECT_TRUE(matches("member-failed=s", failed));
    EXPECT_TRUE(matches("member-update=s", update));
    EXPECT_TRUE(matches("member-reap=s", reap));
    EXPECT_FALSE(matches("member-reap=s", failed));
    EXPECT_TRUE(matches("member-join,member-leave=s", leave));
    EXPECT_FALSE(matches("member-join,member-leave=s", failed));
    EXPECT_TRUE(matches("user=s", deploy));
    EXPECT_TRUE(matches("user=s", other));
    EXPECT_FALSE(matches("user=s", q));
    EXPECT_FALSE(matches("user=s", join));
    EXPECT_TRUE(matches("user:deploy=s", deploy));
    EXPECT_FALSE(matches("user:deploy=s", other));
    EXPECT_FALSE(matches("user:deploy=s", q));
    EXPECT_TRUE(matches("query=s", q));
    EXPECT_FALSE(matches("query=s", deploy));
    EXPECT_TRUE(matches("query:load=s", q));
    EXPECT_FALSE(matches("query:other=s", q));
    EXPECT_TRUE(matches("member-join,user:deploy=s", deploy));
    EXPECT_FALSE(matches("member-join,user:deploy=s", other));
}

TEST(HandlerFilter, ParseSpecList) {
    auto specs = parse_handler_specs({"a.sh", "member-join,user:x=b.sh"});
    ASSERT_TRUE(specs.ok());
    ASSERT_EQ(specs->size(), 3u);
    EXPECT_EQ((*specs)[2].filter.name, "x");
    EXPECT_FALSE(parse_handler_specs({"a.sh", "bogus=b.sh"}).ok());
}

TEST(HandlerEnv, TagNameMangling) {
    EXPECT_EQ(tag_env_name("role"), "ROLE");
    EXPECT_EQ(tag_env_name("dc-zone"), "DC_ZONE");
    EXPECT_EQ(tag_env_name("x.y"), "X_Y");
    EXPECT_EQ(tag_env_name("a_b9"), "A_B9");
    EXPECT_EQ(tag_env_name("\xC3\xA9t\xC3\xA9"), "__T__"); // each non-ASCII byte becomes '_'
}

TEST(HandlerEnv, MemberEventExact) {
    const auto env =
        build_handler_env(member_event(HandlerEventKind::MemberFailed), kSelf, {"PATH=/bin", "HOME=/root"});
    const std::vector<std::string> want{
        "PATH=/bin",         "HOME=/root",          "SERF_EVENT=member-failed", "SERF_SELF_NAME=node-a",
        "SERF_SELF_ROLE=lb", "SERF_TAG_DC_ZONE=z1", "SERF_TAG_ROLE=lb",         "SERF_TAG_X_Y=1"};
    EXPECT_EQ(env, want);
}

TEST(HandlerEnv, UserAndQueryExact) {
    auto env = build_handler_env(user_event("deploy", "v1", 42), HandlerSelf{"n", {}}, {});
    EXPECT_EQ(env, (std::vector<std::string>{"SERF_EVENT=user", "SERF_SELF_NAME=n", "SERF_SELF_ROLE=",
                                             "SERF_USER_EVENT=deploy", "SERF_USER_LTIME=42"}));
    env = build_handler_env(query_event("load", "", 9), HandlerSelf{"n", {}}, {});
    EXPECT_EQ(env, (std::vector<std::string>{"SERF_EVENT=query", "SERF_SELF_NAME=n", "SERF_SELF_ROLE=",
                                             "SERF_QUERY_NAME=load", "SERF_QUERY_LTIME=9"}));
}

TEST(HandlerEnv, OurVariablesReplaceInheritedOnes) {
    const auto env = build_handler_env(user_event("e", "", 1), HandlerSelf{"n", {}},
                                       {"SERF_EVENT=stale", "KEEP=1", "SERF_USER_LTIME=0", "NOEQUALS"});
    EXPECT_EQ(std::count(env.begin(), env.end(), "KEEP=1"), 1);
    EXPECT_EQ(std::count(env.begin(), env.end(), "SERF_EVENT=stale"), 0);
    EXPECT_EQ(std::count(env.begin(), env.end(), "SERF_USER_LTIME=1"), 1);
    EXPECT_EQ(std::count(env.begin(), env.end(), "NOEQUALS"), 0);
}

TEST(HandlerEnv, CollidingTagNamesKeepOne) {
    const auto env =
        build_handler_env(user_event("e", "", 1), HandlerSelf{"n", {{"a-b", "1"}, {"a.b", "2"}}}, {});
    EXPECT_EQ(std::count_if(env.begin(), env.end(),
                            [](const std::string& s) { return s.rfind("SERF_TAG_A_B=", 0) == 0; }),
              1);
}

TEST(HandlerStdin, MemberLines) {
    EXPECT_EQ(build_handler_stdin(member_event(HandlerEventKind::MemberJoin)),
              "node-b\t127.0.0.2\tweb\tdc=east,role=web\n"
              "node-c\t10.0.0.3\t\t\n");
}

TEST(HandlerStdin, EscapesTabsAndNewlines) {
    HandlerEvent e;
    e.kind = HandlerEventKind::MemberUpdate;
    e.members.push_back({"we\tird\nname", "::1", {{"role", "a\tb"}, {"k", "v\nw"}}});
    EXPECT_EQ(build_handler_stdin(e), "we\\tird\\nname\t::1\ta\\tb\tk=v\\nw,role=a\\tb\n");
    EXPECT_EQ(escape_field("plain"), "plain");
}

TEST(HandlerStdin, PayloadGetsNewline) {
    EXPECT_EQ(build_handler_stdin(user_event("e", "hello", 1)), "hello\n");
    EXPECT_EQ(build_handler_stdin(user_event("e", "hello\n", 1)), "hello\n");
    EXPECT_EQ(build_handler_stdin(user_event("e", "", 1)), "");
    EXPECT_EQ(build_handler_stdin(query_event("q", std::string("a\0b", 3), 1)), std::string("a\0b\n", 4));
    HandlerEvent none;
    none.kind = HandlerEventKind::MemberReap;
    EXPECT_EQ(build_handler_stdin(none), "");
}

TEST(HandlerEvent, KindNames) {
    EXPECT_EQ(event_kind_name(HandlerEventKind::MemberJoin), "member-join");
    EXPECT_EQ(event_kind_name(HandlerEventKind::MemberLeave), "member-leave");
    EXPECT_EQ(event_kind_name(HandlerEventKind::MemberFailed), "member-failed");
    EXPECT_EQ(event_kind_name(HandlerEventKind::MemberUpdate), "member-update");
    EXPECT_EQ(event_kind_name(HandlerEventKind::MemberReap), "member-reap");
    EXPECT_EQ(event_kind_name(HandlerEventKind::User), "user");
    EXPECT_EQ(event_kind_name(HandlerEventKind::Query), "query");
}
