// The asio driver running a bare swim::Endpoint against a real `serf agent` on loopback:
// join by TCP push-pull, both sides see each other alive, and a kill -9 of serf is detected.
#include <gtest/gtest.h>
#include <signal.h>

#include <asio.hpp>

#include "clusterd/net/address.hpp"
#include "clusterd/net/driver.hpp"
#include "clusterd/swim/endpoint.hpp"
#include "support/asio_pump.hpp"
#include "support/serf_agent.hpp"

using namespace clusterd;
using namespace std::chrono_literals;
using clusterd::testing::pump_until;
using clusterd::testing::SerfAgent;
using clusterd::testing::SerfAgentOptions;

namespace {

std::string serf_members(const SerfAgent& a) {
    return clusterd::testing::run({"serf", "members", "-rpc-addr=" + a.rpc_addr()}, 5s).out;
}

swim::Config local_config(const std::string& name, std::uint16_t port) {
    swim::Config c = swim::Config::lan();
    c.name = name;
    c.advertise_addr = *net::ip_bytes("127.0.0.1");
    c.advertise_port = port;
    c.delegate_protocol_min = 2;
    c.delegate_protocol_max = 5;
    c.delegate_protocol_version = 5;
    return c;
}

} // namespace

class DriverInterop : public ::testing::TestWithParam<std::string> {};

TEST_P(DriverInterop, JoinsSerfAndDetectsItsCrash) {
    const std::string key = GetParam();
    SerfAgentOptions so;
    so.node = "serf1";
    so.encrypt_key = key;
    SerfAgent serf(so);
    ASSERT_TRUE(serf.ready()) << serf.log();
    ASSERT_TRUE(clusterd::testing::wait_until(
        [&] { return serf_members(serf).find("serf1") != std::string::npos; }, 10s))
        << serf.log();

    asio::io_context io;
    const auto port = clusterd::testing::free_port();
    swim::Endpoint ep(local_config("cd1", port), nullptr, 42, base::Instant::zero());
    net::HostAdapter<swim::Endpoint> host(ep);
    net::DriverOptions opts;
    opts.bind_addr = asio::ip::make_address("127.0.0.1");
    opts.bind_port = port;
    std::vector<std::string> logs;
    net::Driver driver(io, host, opts, [&](int, const std::string& m) { logs.push_back(m); });
    wire::Keyring ring;
    if (!key.empty()) {
        auto r = wire::Keyring::from_base64({key});
        ASSERT_TRUE(r.ok());
        ring = *r;
        driver.set_keyring(&ring);
    }
    ASSERT_TRUE(driver.start().ok());
    ep.join({swim::Address{*net::ip_bytes("127.0.0.1"), serf.bind_port()}}, driver.now());
    driver.kick();

    ASSERT_TRUE(pump_until(
        io, [&] { return ep.num_alive() == 2; }, 10s))
        << serf.log();
    ASSERT_TRUE(pump_until(
        io,
        [&] {
            auto m = serf_members(serf);
            return m.find("cd1") != std::string::npos && m.find("alive") != std::string::npos;
        },
        10s))
        << serf_members(serf) << serf.log();
    // Stay converged for a few probe rounds: serf must not suspect us.
    pump_until(
        io, [] { return false; }, 3s);
    EXPECT_EQ(ep.num_alive(), 2u);
    auto members = serf_members(serf);
    EXPECT_NE(members.find("cd1"), std::string::npos);
    EXPECT_EQ(members.find("failed"), std::string::npos) << members << serf.log();
    EXPECT_EQ(driver.stats().drops.size(), 0u);

    serf.process().kill9();
    ASSERT_TRUE(pump_until(
        io,
        [&] {
            auto n = ep.find("serf1");
            return n.has_value() && n->state == swim::State::Dead;
        },
        30s));
    driver.stop();
}

std::string key_label(const ::testing::TestParamInfo<std::string>& p) {
    if (p.param.empty())
        return "plaintext";
    clusterd::base::Bytes raw;
    clusterd::base::base64_decode(p.param, raw);
    return "aes" + std::to_string(raw.size() * 8);
}

INSTANTIATE_TEST_SUITE_P(Keys, DriverInterop,
                         ::testing::Values(std::string(), std::string("kPjXbONy/RArsCdG0LTOCQ=="),
                                           std::string("T9jncgl9mbLus+baTTa7q7nPSUrXwbDi2dhbtqir37s=")),
                         key_label);
