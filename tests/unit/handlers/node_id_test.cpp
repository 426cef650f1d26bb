// Kong-style node names and the node id persisted in data_dir.
#include "clusterd/agent/node_id.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "clusterd/regex/regex.hpp"
#include "test_util.hpp"

using namespace clusterd::agent;
using clusterd::testutil::read_file;
using clusterd::testutil::TempDir;

TEST(NodeId, RandomIdIsUuidV4Hex) {
    auto a = random_node_id();
    auto b = random_node_id();
    ASSERT_TRUE(a.ok());
    ASSERT_TRUE(b.ok());
    EXPECT_TRUE(
        clusterd::regex::Regex::compile("\\A[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}\\z")->search(*a))
        << *a;
    EXPECT_NE(*a, *b);
}

TEST(NodeId, KongFormat) {
    EXPECT_EQ(kong_node_name("v194", "0.0.0.0:7946", "f8b6c6ad2fba4d7c8b0ff2d0c2a6c0e1"),
              "v194_0.0.0.0:7946_f8b6c6ad2fba4d7c8b0ff2d0c2a6c0e1");
}

TEST(NodeId, PersistedAcrossRestarts) {
    TempDir dir("nodeid");
    const std::string data = dir.file("data/sub"); // created on demand
    auto first = load_or_create_node_id(data);
    ASSERT_TRUE(first.ok()) << first.error().message;
    EXPECT_EQ(read_file(data + "/node-id"), *first + "\n");
    struct stat st {};
    ASSERT_EQ(::stat(data.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    auto second = load_or_create_node_id(data);
    ASSERT_TRUE(second.ok());
    EXPECT_EQ(*first, *second);

    bool persisted = false;
    auto name = default_node_name(data, "127.0.0.1:7946", &persisted);
    ASSERT_TRUE(name.ok());
    EXPECT_TRUE(persisted);
    EXPECT_EQ(*name, host_name() + "_127.0.0.1:7946_" + *first);
    auto again = default_node_name(data, "127.0.0.1:7946");
    EXPECT_EQ(*again, *name);
}

TEST(NodeId, NoDataDirGivesAFreshUnsavedId) {
    bool persisted = true;
    auto a = default_node_name("", "0.0.0.0:7946", &persisted);
    ASSERT_TRUE(a.ok());
    EXPECT_FALSE(persisted);
    auto b = default_node_name("", "0.0.0.0:7946");
    EXPECT_NE(*a, *b);
}

TEST(NodeId, CorruptFileIsAnErrorNamingIt) {
    TempDir dir("nodeid-bad");
    std::ofstream(dir.file("node-id")) << "not-a-uuid\n";
    auto r = load_or_create_node_id(dir.path());
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find(dir.file("node-id")), std::string::npos);
    EXPECT_NE(r.error().message.find("32 hex digits"), std::string::npos);
}

TEST(NodeId, DataDirThatIsAFileIsAnError) {
    TempDir dir("nodeid-file");
    std::ofstream(dir.file("plain")) << "x";
    auto r = load_or_create_node_id(dir.file("plain"));
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("not a directory"), std::string::npos);
}
