// libpq is loaded on first use (src/store/libpq_loader.hpp): not mapped before, mapped after,
// every function resolved, loaded once; a missing library is a clear error naming the package.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "libpq_loader.hpp"

using namespace clusterd;

namespace {
bool mapped(const std::string& needle) {
    std::ifstream f("/proc/self/maps");
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str().find(needle) != std::string::npos;
}
} // namespace

TEST(LibPqLoader, LoadsOnFirstUseOnly) {
    EXPECT_FALSE(mapped("libpq.so")) << "libpq is linked in; it must be loaded on first use";
    auto pq = store::load_libpq();
    ASSERT_TRUE(pq) << pq.error().message;
    EXPECT_TRUE(mapped("libpq.so"));
    const store::LibPq& t = **pq;
    EXPECT_NE(t.connectdb, nullptr);
    EXPECT_NE(t.exec_params, nullptr);
    EXPECT_NE(t.clear, nullptr);
    auto again = store::load_libpq();
    ASSERT_TRUE(again);
    EXPECT_EQ(*again, *pq);
    // A connection attempt through the table fails cleanly (nothing listens on port 1).
    PGconn* c = t.connectdb("postgresql://127.0.0.1:1/x?connect_timeout=2");
    ASSERT_NE(c, nullptr);
    EXPECT_NE(t.status(c), CONNECTION_OK);
    EXPECT_NE(std::string(t.error_message(c)), "");
    t.finish(c);
}

TEST(LibPqLoader, MissingLibraryIsAClearError) {
    auto pq = store::load_libpq("libclusterd-no-such-library.so.0");
    ASSERT_FALSE(pq);
    EXPECT_NE(pq.error().message.find("libpq5"), std::string::npos) << pq.error().message;
    EXPECT_NE(pq.error().message.find("libclusterd-no-such-library.so.0"), std::string::npos)
        << pq.error().message;
}
