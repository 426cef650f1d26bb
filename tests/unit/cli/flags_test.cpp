// The Serf/Go flag spellings `clusterd agent` must accept exactly like the GNU ones.
#include <gtest/gtest.h>

#include "clusterd/cli/cli.hpp"

using clusterd::cli::normalize_go_flags;
using clusterd::cli::parse_agent_args;

TEST(GoFlags, NormalizeSingleDash) {
    EXPECT_EQ(normalize_go_flags({"-node=a", "-bind", "x", "-c", "f", "--rpc-addr=y", "--", "-z"}),
              (std::vector<std::string>{"--node=a", "--bind", "x", "-c", "f", "--rpc-addr=y", "--", "-z"}));
}

TEST(GoFlags, SingleDashEqualsParsesLikeDoubleDashSpace) {
    auto go = parse_agent_args({"-node=a", "-bind=127.0.0.1:7946", "-rpc-addr=127.0.0.1:7373"});
    auto gnu = parse_agent_args({"--node", "a", "--bind", "127.0.0.1:7946", "--rpc-addr", "127.0.0.1:7373"});
    ASSERT_TRUE(go.ok()) << go.error().message;
    ASSERT_TRUE(gnu.ok()) << gnu.error().message;
    EXPECT_EQ(go->values, gnu->values);
    EXPECT_EQ(go->last("node_name"), "a");
    EXPECT_EQ(go->last("bind"), "127.0.0.1:7946");
    EXPECT_EQ(go->last("rpc_addr"), "127.0.0.1:7373");
}

TEST(GoFlags, EqualsAndSpaceAreTheSame) {
    auto eq = parse_agent_args({"-node=a", "--bind=1.2.3.4"});
    auto sp = parse_agent_args({"-node", "a", "--bind", "1.2.3.4"});
    ASSERT_TRUE(eq.ok());
    ASSERT_TRUE(sp.ok());
    EXPECT_EQ(eq->values, sp->values);
}

TEST(GoFlags, KongCommandLineParses) {
    // The agent command line Kong 0.x generated, with `serf` replaced by `clusterd`.
    auto r = parse_agent_args({"-bind=0.0.0.0:7946", "-rpc-addr=127.0.0.1:7373", "-advertise=10.0.0.1:7946",
                               "-encrypt=kPjXbONy/RArsCdG0LTOCQ==", "-log-level=err", "-profile=wan",
                               "-node=h_0.0.0.0:7946_0123456789abcdef0123456789abcdef",
                               "-event-handler=member-join,member-leave,member-failed,member-update,"
                               "member-reap,user:kong=/usr/local/kong/serf_event.sh"});
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->last("profile"), "wan");
    EXPECT_EQ(r->last("encrypt_key"), "kPjXbONy/RArsCdG0LTOCQ==");
    ASSERT_EQ(r->values.at("event_handlers").size(), 1u);
}

TEST(GoFlags, RepeatedFlagsKeepEveryValue) {
    auto r = parse_agent_args({"-join=a:1", "-join", "b:2", "--join=c:3", "-tag", "k=v", "-tag=x=y"});
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->values.at("start_join"), (std::vector<std::string>{"a:1", "b:2", "c:3"}));
    EXPECT_EQ(r->values.at("tags"), (std::vector<std::string>{"k=v", "x=y"}));
}

TEST(GoFlags, BoolFlagsTakeOptionalValue) {
    auto on = parse_agent_args({"-rejoin"});
    auto off = parse_agent_args({"-rejoin=false"});
    auto absent = parse_agent_args({});
    ASSERT_TRUE(on.ok() && off.ok() && absent.ok());
    EXPECT_EQ(on->last("rejoin_after_leave"), "true");
    EXPECT_EQ(off->last("rejoin_after_leave"), "false");
    EXPECT_FALSE(absent->has("rejoin_after_leave"));
}

TEST(GoFlags, UnknownFlagIsNamed) {
    auto r = parse_agent_args({"-node=a", "-bogus-flag=1"});
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("-bogus-flag"), std::string::npos) << r.error().message;
    auto r2 = parse_agent_args({"--nodee", "a"});
    ASSERT_FALSE(r2.ok());
    EXPECT_NE(r2.error().message.find("--nodee"), std::string::npos) << r2.error().message;
}
