// Issue 4 interop: 2 real `serf` agents and 2 clusterd agents in one loopback cluster, in
// plaintext and under 16- and 32-byte keys. Everyone sees everyone alive (through the stock
// `serf members` against both kinds, and `clusterd members`), kill -9 of either kind is seen as
// failed by the other, and an agent with the wrong key is not admitted and says why.
#include <gtest/gtest.h>

#include "support/cluster.hpp"

using namespace clusterd::testing;
using namespace std::chrono_literals;

namespace {
const char* kKey16 = "kPjXbONy/RArsCdG0LTOCQ==";
const char* kKey32 = "T9jncgl9mbLus+baTTa7q7nPSUrXwbDi2dhbtqir37s=";

std::vector<std::string> key_flags(const std::string& key) {
    if (key.empty())
        return {};
    return {"-encrypt=" + key};
}
} // namespace

class MixedCluster : public ::testing::TestWithParam<std::string> {};

TEST_P(MixedCluster, FourAgentsConvergeAndDetectCrashesBothWays) {
    const auto key = GetParam();
    Cluster c("mixed");
    auto& s1 = c.start(Kind::Serf, "s1", key_flags(key));
    auto& d1 = c.start(Kind::Clusterd, "d1", key_flags(key), &s1);
    auto& s2 = c.start(Kind::Serf, "s2", key_flags(key), &d1);
    auto& d2 = c.start(Kind::Clusterd, "d2", key_flags(key), &s2);
    ASSERT_TRUE(c.wait_all_alive({"s1", "s2", "d1", "d2"}, 30s)) << c.dump();

    // clusterd's own CLI gives the same view on both kinds.
    for (auto* via : {&s1, &d2}) {
        auto r = c.clusterd_cli(*via, {"members"});
        ASSERT_EQ(r.exit_code, 0) << r.err;
        for (const char* n : {"s1", "s2", "d1", "d2"})
            EXPECT_NE(r.out.find(n), std::string::npos) << r.out;
        EXPECT_EQ(r.out.find("failed"), std::string::npos) << r.out;
    }
    // Encryption is reported as Serf reports it.
    auto info = c.serf_cli(d1, {"info"});
    EXPECT_NE(info.out.find(std::string("encrypted = ") + (key.empty() ? "false" : "true")),
              std::string::npos)
        << info.out;

    // kill -9 of a clusterd agent: the Serf agents mark it failed.
    d2.child.kill9();
    EXPECT_TRUE(c.wait_status(s1, "d2", "failed", 45s)) << c.dump();
    EXPECT_TRUE(c.wait_status(s2, "d2", "failed", 45s)) << c.dump();
    // kill -9 of a Serf agent: the clusterd agent marks it failed.
    s2.child.kill9();
    EXPECT_TRUE(c.wait_status(d1, "s2", "failed", 45s)) << c.dump();
    EXPECT_EQ(c.statuses(d1)["s1"], "alive");
}

INSTANTIATE_TEST_SUITE_P(Keys, MixedCluster, ::testing::Values(std::string(), kKey16, kKey32),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                             return p.param.empty()     ? std::string("plaintext")
                                    : p.param == kKey16 ? std::string("aes128")
                                                        : std::string("aes256");
                         });

TEST(MixedClusterKeys, WrongKeyIsNotAdmittedAndSaysWhy) {
    Cluster c("wrongkey");
    auto& s1 = c.start(Kind::Serf, "s1", {"-encrypt=" + std::string(kKey16)});
    auto& d1 = c.start(Kind::Clusterd, "d1", {"-encrypt=" + std::string(kKey16)}, &s1);
    ASSERT_TRUE(c.wait_all_alive({"s1", "d1"}, 20s)) << c.dump();

    // A clusterd agent with another key cannot join: its -join fails and it exits non-zero.
    auto& bad = c.start(Kind::Clusterd, "bad", {"-encrypt=" + std::string(kKey32)}, &s1);
    ASSERT_TRUE(wait_until([&] { return !bad.child.running(); }, 20s)) << c.dump();
    auto log = bad.child.log();
    EXPECT_NE(log.find("failed to join"), std::string::npos) << log;
    EXPECT_TRUE(log.find("decrypt") != std::string::npos || log.find("key") != std::string::npos) << log;

    // A Serf agent with another key knocking at the clusterd agent: clusterd drops its traffic
    // and logs why; neither side lists the intruder.
    auto& intruder = c.start(Kind::Serf, "intruder", {"-encrypt=" + std::string(kKey32)});
    auto r = c.serf_cli(intruder, {"join", d1.bind_addr()});
    EXPECT_NE(r.exit_code, 0);
    wait_until([&] { return c.agents()[1].child.log().find("decrypt") != std::string::npos; }, 5s);
    EXPECT_NE(d1.child.log().find("decrypt"), std::string::npos) << r.out << r.err << c.dump();
    EXPECT_EQ(c.statuses(d1).count("intruder"), 0u);
    EXPECT_EQ(c.statuses(s1).count("intruder"), 0u);
    EXPECT_EQ(c.statuses(s1).count("bad"), 0u);
}
