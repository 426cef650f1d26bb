// examples/serf_event.sh (the Kong-style handler) run by the ProcessRunner with a fake `curl`
// on PATH: member events become valid JSON {"type","entity"}, user payloads are posted as is.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "clusterd/agent/handlers.hpp"
#include "test_util.hpp"

using namespace clusterd::agent;
using clusterd::testutil::read_file;
using clusterd::testutil::run_until;
using clusterd::testutil::TempDir;
using namespace std::chrono_literals;

namespace {

struct Posted {
    std::string body;
    std::string url;
};

Posted run_example(const HandlerEvent& e, TempDir& dir) {
    const std::string fake = dir.file("curl");
    std::ofstream(fake)
        << "#!/bin/sh\n"
           "while [ $# -gt 0 ]; do\n"
           "  case \"$1\" in --data-binary) printf '%s' \"$2\" > \"$OUT_DIR/body\"; shift ;;\n"
           "  http*) printf '%s' \"$1\" > \"$OUT_DIR/url\" ;; esac; shift\n"
           "done\n";
    ::chmod(fake.c_str(), 0755);
    std::vector<std::string> inherited{"PATH=" + dir.path() + ":/usr/bin:/bin", "OUT_DIR=" + dir.path(),
                                       "KONG_ADMIN_URL=http://127.0.0.1:8001/"};
    asio::io_context io;
    ProcessRunner runner(io, {}, nullptr);
    std::optional<HandlerResult> res;
    runner.submit({std::string(CLUSTERD_TEST_SOURCE_DIR) + "/examples/serf_event.sh",
                   build_handler_env(e, HandlerSelf{"me", {}}, inherited), build_handler_stdin(e), "x"},
                  [&](const HandlerResult& r) { res = r; });
    EXPECT_TRUE(run_until(
        io, [&] { return res.has_value(); }, 10s));
    EXPECT_TRUE(res && res->success()) << (res ? res->output : "");
    return {read_file(dir.file("body")), read_file(dir.file("url"))};
}

} // namespace

TEST(ExampleKongHandler, MemberEventBecomesJson) {
    TempDir dir("kong");
    HandlerEvent e;
    e.kind = HandlerEventKind::MemberJoin;
    e.members = {{"node-b", "127.0.0.2", {{"role", "web"}, {"dc", "east"}}},
                 {"we\"ird\tname", "10.0.0.3", {}}};
    const Posted p = run_example(e, dir);
    EXPECT_EQ(p.url, "http://127.0.0.1:8001/cluster/events/");
    const auto j = nlohmann::json::parse(p.body, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << p.body;
    EXPECT_EQ(j.at("type"), "member-join");
    std::string want = build_handler_stdin(e);
    want.pop_back(); // the script reads stdin with $(cat), which drops the final newline
    EXPECT_EQ(j.at("entity"), want);
}

TEST(ExampleKongHandler, UserPayloadIsPostedUnchanged) {
    TempDir dir("kong-user");
    HandlerEvent e;
    e.kind = HandlerEventKind::User;
    e.name = "kong";
    e.payload = R"({"type":"ENTITY_UPDATED","collection":"apis","entity":{"id":"1"}})";
    EXPECT_EQ(run_example(e, dir).body, e.payload);
}
