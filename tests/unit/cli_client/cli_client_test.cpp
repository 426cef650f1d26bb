// Unit tests of the client subcommands' Go-compatible output helpers.
#include <gtest/gtest.h>

#include "cmd_client_common.hpp"

using namespace clusterd;
using namespace clusterd::cli::client;

TEST(CliClient, ColumnizeLikeRyanuber) {
    EXPECT_EQ(columnize({"a|bb|c", "ccc|d|eeee"}), "a    bb  c\nccc  d   eeee");
    // Cells are trimmed; a short row's last cell is not padded.
    EXPECT_EQ(columnize({" x | y ", "longer|z|tail"}), "x       y\nlonger  z  tail");
    EXPECT_EQ(columnize({}), "");
    EXPECT_EQ(columnize({"n|a=b,c=d|"}), "n  a=b,c=d  ");
}

TEST(CliClient, JsonLikeGoMarshalIndent) {
    Json j = Json::object({{"members", Json::array({Json::object({{"name", Json::str("a<b>&")},
                                                                  {"port", Json::number(7946)},
                                                                  {"tags", Json::string_map({})}})})},
                           {"none", Json::null()}});
    EXPECT_EQ(
        j.dump(),
        "{\n  \"members\": [\n    {\n      \"name\": \"a\\u003cb\\u003e\\u0026\",\n      \"port\": 7946,\n"
        "      \"tags\": {}\n    }\n  ],\n  \"none\": null\n}");
    EXPECT_EQ(Json::str("tab\tnl\n\x01").dump(), "\"tab\\tnl\\n\\u0001\"");
}

TEST(CliClient, GoDurations) {
    EXPECT_EQ(parse_go_duration("15s").value(), std::chrono::seconds(15));
    EXPECT_EQ(parse_go_duration("1m30s").value(), std::chrono::seconds(90));
    EXPECT_EQ(parse_go_duration("250ms").value(), std::chrono::milliseconds(250));
    EXPECT_EQ(parse_go_duration("1.5h").value(), std::chrono::minutes(90));
    EXPECT_EQ(parse_go_duration("0").value(), base::Duration(0));
    EXPECT_FALSE(parse_go_duration("10").ok());
    EXPECT_FALSE(parse_go_duration("abc").ok());
    EXPECT_FALSE(parse_go_duration("5x").ok());
}

TEST(CliClient, TagsAddressesQuoting) {
    auto t = unmarshal_tags({"a=b", "c=d=e", "e="});
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->at("c"), "d=e");
    EXPECT_EQ(t->at("e"), "");
    auto bad = unmarshal_tags({"=x"});
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().message, "Invalid tag: '=x'");
    EXPECT_FALSE(unmarshal_tags({"novalue"}).ok());
    EXPECT_EQ(host_port({127, 0, 0, 1}, 7946), "127.0.0.1:7946");
    base::Bytes v6(16, 0);
    v6[15] = 1;
    EXPECT_EQ(host_port(v6, 7946), "[::1]:7946");
    base::Bytes mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3};
    EXPECT_EQ(host_port(mapped, 1), "10.1.2.3:1");
    EXPECT_EQ(go_quote("a\"b\n"), "\"a\\\"b\\n\"");
}
