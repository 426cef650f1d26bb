// Key query handling over a fake keyring port, list-keys truncation and the origin's verdict.
#include <gtest/gtest.h>

#include <algorithm>

#include "clusterd/serf/key_manager.hpp"

using namespace clusterd;
using namespace clusterd::serf;

namespace {
class FakeKeyring final : public KeyringPort {
  public:
    bool on = true;
    bool persist_fails = false;
    int persisted = 0;
    std::vector<base::Bytes> ring; // primary first

    bool enabled() const override { return on; }
    base::Status install(const base::Bytes& key) override {
        if (key.size() != 16 && key.size() != 24 && key.size() != 32)
            return base::make_error("bad_key", "key size must be 16, 24 or 32 bytes");
        if (std::find(ring.begin(), ring.end(), key) == ring.end())
            ring.push_back(key);
        return base::ok_status();
    }
    base::Status use(const base::Bytes& key) override {
        auto it = std::find(ring.begin(), ring.end(), key);
        if (it == ring.end())
            return base::make_error("no_key", "Requested key is not in the keyring");
        std::rotate(ring.begin(), it, it + 1);
        return base::ok_status();
    }
    base::Status remove(const base::Bytes& key) override {
        if (!ring.empty() && ring[0] == key)
            return base::make_error("primary", "Removing the primary key is not allowed");
        ring.erase(std::remove(ring.begin(), ring.end(), key), ring.end());
        return base::ok_status();
    }
    std::vector<base::Bytes> keys() const override { return ring; }
    base::Bytes primary() const override { return ring.empty() ? base::Bytes{} : ring[0]; }
    base::Status persist() override {
        if (persist_fails)
            return base::make_error("io", "failed to write keyring file");
        ++persisted;
        return base::ok_status();
    }
};
base::Bytes key(std::uint8_t fill) {
    return base::Bytes(16, fill);
}
} // namespace

TEST(KeyManager, InstallUseRemoveList) {
    FakeKeyring kr;
    kr.ring = {key(1)};
    auto r = handle_key_query(KeyOp::Install, key(2), kr);
    EXPECT_TRUE(r.result);
    EXPECT_EQ(kr.persisted, 1);
    r = handle_key_query(KeyOp::Use, key(2), kr);
    EXPECT_TRUE(r.result);
    EXPECT_EQ(kr.primary(), key(2));
    r = handle_key_query(KeyOp::Remove, key(2), kr);
    EXPECT_FALSE(r.result);
    EXPECT_EQ(r.message, "Removing the primary key is not allowed");
    r = handle_key_query(KeyOp::Remove, key(1), kr);
    EXPECT_TRUE(r.result);
    r = handle_key_query(KeyOp::List, std::nullopt, kr);
    EXPECT_TRUE(r.result);
    ASSERT_EQ(r.keys.size(), 1u);
    EXPECT_EQ(r.keys[0], base::base64_encode(key(2)));
    EXPECT_EQ(r.primary_key, base::base64_encode(key(2)));
}

TEST(KeyManager, ErrorsAsSerfWordsThem) {
    FakeKeyring kr;
    kr.ring = {key(1)};
    EXPECT_EQ(handle_key_query(KeyOp::Use, key(9), kr).message, "Requested key is not in the keyring");
    EXPECT_EQ(handle_key_query(KeyOp::Install, base::Bytes(5, 1), kr).message,
              "key size must be 16, 24 or 32 bytes");
    auto undecodable = handle_key_query(KeyOp::Install, std::nullopt, kr);
    EXPECT_FALSE(undecodable.result);
    EXPECT_EQ(undecodable.message, "");
    kr.persist_fails = true;
    auto r = handle_key_query(KeyOp::Install, key(3), kr);
    EXPECT_FALSE(r.result);
    EXPECT_EQ(r.message, "failed to write keyring file");
    kr.on = false;
    EXPECT_EQ(handle_key_query(KeyOp::Install, key(4), kr).message,
              "No keyring to modify (encryption not enabled)");
    EXPECT_EQ(handle_key_query(KeyOp::List, std::nullopt, kr).message,
              "Keyring is empty (encryption not enabled)");
}

TEST(KeyManager, ListTruncation) {
    wire::SerfKeyResponse resp;
    resp.result = true;
    for (int i = 0; i < 50; ++i)
        resp.keys.push_back(base::base64_encode(key(static_cast<std::uint8_t>(i))));
    // Pretend each key costs 25 bytes plus 50 of overhead within 1024: at most 38 keys fit.
    auto fits = [](const wire::SerfKeyResponse& r) { return r.keys.size() * 25 + 50 <= 1024; };
    auto out = fit_key_list(resp, 1024, fits);
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(out->keys.size(), 38u);
    EXPECT_EQ(out->message, "truncated key list response, showing first 38 of 50 keys");
    auto small = fit_key_list(wire::SerfKeyResponse{true, "", {"a"}, "a"}, 1024, fits);
    ASSERT_TRUE(small.has_value());
    EXPECT_EQ(small->message, "");
    auto never = fit_key_list(resp, 1024, [](const wire::SerfKeyResponse&) { return false; });
    EXPECT_FALSE(never.has_value());
}

TEST(KeyManager, CollectorVerdicts) {
    KeyResponseCollector ok(2);
    ok.add("a", wire::SerfKeyResponse{true, "", {"k1", "k2"}, "k1"}, "");
    EXPECT_FALSE(ok.complete());
    ok.add("b", wire::SerfKeyResponse{true, "", {"k1"}, "k1"}, "");
    EXPECT_TRUE(ok.complete());
    EXPECT_TRUE(ok.verdict().ok());
    EXPECT_EQ(ok.response().keys.at("k1"), 2);
    EXPECT_EQ(ok.response().primary_keys.at("k1"), 2);

    KeyResponseCollector bad(3);
    bad.add("a", wire::SerfKeyResponse{false, "Requested key is not in the keyring", {}, ""}, "");
    bad.add("b", std::nullopt, "Invalid key query response type: [1 2]");
    EXPECT_EQ(bad.verdict().error().message, "2/3 nodes reported failure");
    EXPECT_EQ(bad.response().messages.at("b"), "Invalid key query response type: [1 2]");

    KeyResponseCollector partial(3);
    partial.add("a", wire::SerfKeyResponse{true, "", {}, "k"}, "");
    EXPECT_EQ(partial.verdict().error().message, "1/3 nodes reported success");
}
