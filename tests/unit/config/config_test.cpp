// Config loading: the seed example, precedence (defaults <- YAML <- JSON <- flags), every
// validation error naming file + key + problem, ttl_on_failure -> reconnect_timeout, rendering.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "clusterd/config/config.hpp"

using namespace clusterd;
using namespace clusterd::config;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr const char* kKey16 = "MDEyMzQ1Njc4OWFiY2RlZg=="; // "0123456789abcdef"
constexpr const char* kKey32 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

class TempDir {
  public:
    TempDir() {
        path_ = fs::temp_directory_path() /
                ("clusterd-config-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
        fs::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    std::string write(const std::string& name, const std::string& text) const {
        const fs::path p = path_ / name;
        fs::create_directories(p.parent_path());
        std::ofstream(p) << text;
        return p.string();
    }
    std::string path() const { return path_.string(); }

  private:
    fs::path path_;
    static inline int counter_ = 0;
};

FlagValues flags(std::initializer_list<std::pair<std::string, std::vector<std::string>>> kv) {
    FlagValues f;
    for (const auto& [k, v] : kv)
        f.values[k] = v;
    return f;
}

std::string load_error(const std::string& yaml, const std::string& source = "test.yml") {
    auto r = load_yaml_text(yaml, source);
    EXPECT_FALSE(r.ok()) << "expected an error for:\n" << yaml;
    return r.ok() ? std::string() : r.error().message;
}

void expect_contains(const std::string& hay, const std::string& needle) {
    EXPECT_NE(hay.find(needle), std::string::npos) << "'" << needle << "' not in: " << hay;
}

} // namespace

TEST(Config, DefaultsMatchSerf) {
    auto r = load_config("", FlagValues{});
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->bind, "0.0.0.0:7946");
    EXPECT_EQ(r->rpc_addr, "127.0.0.1:7373");
    EXPECT_EQ(r->profile, "lan");
    EXPECT_EQ(r->protocol, 5);
    EXPECT_EQ(r->log_level, "info");
    EXPECT_EQ(r->reconnect_timeout, 24h);
    EXPECT_EQ(r->tombstone_timeout, 24h);
    EXPECT_EQ(r->reconnect_interval, 30s);
    EXPECT_EQ(r->retry_interval, 30s);
    EXPECT_EQ(r->broadcast_timeout, 5s);
    EXPECT_EQ(r->query_response_size_limit, 1024);
    EXPECT_EQ(r->query_size_limit, 1024);
    EXPECT_EQ(r->user_event_size_limit, 512);
    // ttl_on_failure is Kong's datastore row TTL, independent of Serf's reconnect_timeout.
    EXPECT_EQ(r->ttl_on_failure, 3600);
    EXPECT_EQ(r->datastore, "");
    EXPECT_EQ(r->datastore_refresh_interval, 30s);
    EXPECT_TRUE(r->enable_compression);
    EXPECT_EQ(r->syslog_facility, "LOCAL0");
}

TEST(Config, SeedExampleLoads) {
    const std::string yaml = std::string("cluster_listen: \"0.0.0.0:7946\"\n"
                                         "cluster_listen_rpc: \"127.0.0.1:7373\"\n"
                                         "cluster:\n"
                                         "  advertise: \"\"\n"
                                         "  encrypt: \"") +
                             kKey16 +
                             "\"\n"
                             "  ttl_on_failure: 3600\n";
    auto r = load_yaml_text(yaml, "seed.yml");
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->bind, "0.0.0.0:7946");
    EXPECT_EQ(r->rpc_addr, "127.0.0.1:7373");
    EXPECT_EQ(r->advertise, "");
    EXPECT_EQ(r->encrypt_key, kKey16);
    EXPECT_EQ(r->ttl_on_failure, 3600);
    EXPECT_EQ(r->reconnect_timeout, 24h); // Serf's own key and default
}

TEST(Config, ShippedConfigFilesLoad) {
    const char* src = std::getenv("CLUSTERD_SOURCE_DIR");
    const std::string root = src ? src : CLUSTERD_TEST_SOURCE_DIR;
    for (const char* f : {"conf/clusterd.yml", "conf/clusterd-kong.yml"}) {
        auto r = load_config(root + "/" + f, FlagValues{});
        EXPECT_TRUE(r.ok()) << f << ": " << (r.ok() ? "" : r.error().message);
    }
    auto j = load_config("", flags({{"config_file", {root + "/conf/serf.json"}}}));
    EXPECT_TRUE(j.ok()) << (j.ok() ? "" : j.error().message);
}

TEST(Config, EveryYamlKey) {
    const std::string yaml = R"(
node_name: n1
tags: {dc: east, rack: r1}
protocol: 4
profile: wan
event_handlers: ["member-join=j.sh", "user:deploy=d.sh"]
snapshot_path: /tmp/snap
retry_join: ["10.0.0.1", "10.0.0.2:7946"]
retry_interval: 10s
retry_max_attempts: 3
rejoin_after_leave: true
leave_on_terminate: true
skip_leave_on_interrupt: yes
reconnect_interval: 1m
reconnect_timeout: 12h
tombstone_timeout: 1h30m
broadcast_timeout: 2s
disable_compression: true
enable_syslog: true
log_level: DEBUG
rpc_auth: secret
query_size_limit: 2048
query_response_size_limit: 2048
user_event_size_limit: 1024
disable_coordinates: true
replay_on_join: true
start_join: ["127.0.0.2"]
data_dir: /var/lib/x
handler_timeout: 30s
keyring_file: /etc/k.json
disable_name_resolution: true
syslog_facility: LOCAL1
statsd_addr: 127.0.0.1:8125
interface: lo
cluster:
  ttl_on_failure: 120
  profile: local
  datastore: sqlite:/var/lib/clusterd/nodes.db
  datastore_refresh_interval: 20s
)";
    auto r = load_yaml_text(yaml, "all.yml");
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->node_name, "n1");
    EXPECT_EQ(r->tags.at("dc"), "east");
    EXPECT_EQ(r->protocol, 4);
    EXPECT_EQ(r->profile, "local"); // cluster.profile comes after profile in the file
    EXPECT_EQ(r->event_handlers.size(), 2u);
    EXPECT_EQ(r->retry_join.size(), 2u);
    EXPECT_EQ(r->retry_interval, 10s);
    EXPECT_EQ(r->retry_max_attempts, 3);
    EXPECT_TRUE(r->rejoin_after_leave);
    EXPECT_TRUE(r->leave_on_terminate);
    EXPECT_TRUE(r->skip_leave_on_interrupt);
    EXPECT_EQ(r->reconnect_interval, 60s);
    EXPECT_EQ(r->reconnect_timeout, 12h); // two separate settings
    EXPECT_EQ(r->ttl_on_failure, 120);
    EXPECT_EQ(r->datastore, "sqlite:/var/lib/clusterd/nodes.db");
    EXPECT_EQ(r->datastore_refresh_interval, 20s);
    EXPECT_EQ(r->tombstone_timeout, 90min);
    EXPECT_EQ(r->broadcast_timeout, 2s);
    EXPECT_FALSE(r->enable_compression);
    EXPECT_TRUE(r->enable_syslog);
    EXPECT_EQ(r->log_level, "debug");
    EXPECT_EQ(r->rpc_auth, "secret");
    EXPECT_EQ(r->query_size_limit, 2048);
    EXPECT_EQ(r->user_event_size_limit, 1024);
    EXPECT_TRUE(r->disable_coordinates);
    EXPECT_TRUE(r->replay_on_join);
    EXPECT_EQ(r->data_dir, "/var/lib/x");
    EXPECT_EQ(r->handler_timeout, 30s);
    EXPECT_EQ(r->keyring_file, "/etc/k.json");
    EXPECT_TRUE(r->disable_name_resolution);
    EXPECT_EQ(r->interface_name, "lo");
}

TEST(Config, PrecedenceDefaultsYamlJsonFlags) {
    TempDir dir;
    const std::string yml = dir.write("c.yml", "cluster_listen: 127.0.0.1:8000\n"
                                               "cluster_listen_rpc: 127.0.0.1:8001\n"
                                               "node_name: from-yaml\n"
                                               "log_level: warn\n"
                                               "tags: {a: yaml, b: yaml}\n"
                                               "event_handlers: [yaml.sh]\n");
    const std::string j1 = dir.write("one.json", R"({"node_name": "from-json", "bind": "127.0.0.1:9000",
        "tags": {"b": "json"}, "event_handlers": ["json.sh"], "protocol": 3})");
    dir.write("d/10-b.json", R"({"log_level": "debug"})");
    dir.write("d/05-a.json", R"({"log_level": "err", "profile": "wan"})");
    dir.write("d/ignored.txt", "not json");
    // YAML only
    auto only_yaml = load_config(yml, FlagValues{});
    ASSERT_TRUE(only_yaml.ok()) << only_yaml.error().message;
    EXPECT_EQ(only_yaml->bind, "127.0.0.1:8000");
    EXPECT_EQ(only_yaml->node_name, "from-yaml");
    EXPECT_EQ(only_yaml->protocol, 5); // default kept
    // YAML <- JSON file <- JSON dir (lexical order) <- flags
    auto r = load_config(yml, flags({{"config_file", {j1}},
                                     {"config_dir", {dir.path() + "/d"}},
                                     {"node_name", {"from-flag"}},
                                     {"tags", {"c=flag"}},
                                     {"event_handlers", {"flag.sh"}}}));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->node_name, "from-flag");
    EXPECT_EQ(r->bind, "127.0.0.1:9000");     // JSON over YAML
    EXPECT_EQ(r->rpc_addr, "127.0.0.1:8001"); // YAML over default
    EXPECT_EQ(r->log_level, "debug");         // 10-b.json read after 05-a.json
    EXPECT_EQ(r->profile, "wan");
    EXPECT_EQ(r->protocol, 3);
    EXPECT_EQ(r->tags, (std::map<std::string, std::string>{{"a", "yaml"}, {"b", "json"}, {"c", "flag"}}));
    EXPECT_EQ(r->event_handlers, (std::vector<std::string>{"yaml.sh", "json.sh", "flag.sh"}));
    EXPECT_EQ(r->json_files.size(), 3u);
    // a flag beats everything
    auto f = load_config(
        yml, flags({{"config_file", {j1}}, {"bind", {"127.0.0.9:1234"}}, {"log_level", {"trace"}}}));
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(f->bind, "127.0.0.9:1234");
    EXPECT_EQ(f->log_level, "trace");
}

TEST(Config, PickConfigPath) {
    EXPECT_EQ(pick_config_path(flags({{"config", {"/a.yml"}}}), "/b.yml"), "/a.yml");
    EXPECT_EQ(pick_config_path(FlagValues{}, "/b.yml"), "/b.yml");
}

TEST(Config, FlagsOfEveryKind) {
    auto r = load_config("", flags({{"disable_compression", {"true"}},
                                    {"protocol", {"4"}},
                                    {"retry_max_attempts", {"7"}},
                                    {"retry_interval", {"5s"}},
                                    {"encrypt_key", {kKey32}},
                                    {"start_join", {"127.0.0.2", "127.0.0.3"}},
                                    {"role", {"web"}}}));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_FALSE(r->enable_compression);
    EXPECT_EQ(r->protocol, 4);
    EXPECT_EQ(r->retry_max_attempts, 7);
    EXPECT_EQ(r->retry_interval, 5s);
    EXPECT_EQ(r->start_join.size(), 2u);
    EXPECT_EQ(r->tags.at("role"), "web"); // deprecated -role becomes the role tag
    EXPECT_FALSE(r->warnings.empty());
}

// The RPC connection cap (clusterd's own key; Serf has none): 4,096 by default, 1..65536.
TEST(Config, RpcMaxConnections) {
    auto d = load_config("", flags({}));
    ASSERT_TRUE(d.ok()) << d.error().message;
    EXPECT_EQ(d->rpc_max_connections, 4096);
    auto r = load_config("", flags({{"rpc_max_connections", {"128"}}}));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->rpc_max_connections, 128);
    EXPECT_NE(load_error("rpc_max_connections: 0\n", "/etc/x.yml").find("between 1 and 65536"),
              std::string::npos);
    EXPECT_NE(load_error("rpc_max_connections: 70000\n", "/etc/x.yml").find("rpc_max_connections"),
              std::string::npos);
}

TEST(ConfigErrors, BadAddressNamesFileAndKey) {
    auto m = load_error("cluster_listen: \"not-an-ip:7946\"\n", "/etc/x.yml");
    expect_contains(m, "/etc/x.yml");
    expect_contains(m, "cluster_listen");
    expect_contains(m, "bad address");
    expect_contains(load_error("cluster_listen_rpc: \"127.0.0.1:99999\"\n"), "out of range");
    expect_contains(load_error("cluster_listen: \"127.0.0.1:abc\"\n"), "not a number");
    expect_contains(load_error("cluster:\n  advertise: \"1.2.3:7946\"\n"), "cluster.advertise");
    expect_contains(load_error("bind: \"[::1:7946\"\n"), "missing ']'");
    EXPECT_TRUE(load_yaml_text("bind: \"[::1]:7946\"\n", "t").ok());
    EXPECT_TRUE(load_yaml_text("bind: \"127.0.0.1\"\n", "t").ok());
}

TEST(ConfigErrors, BadEncryptKey) {
    auto m = load_error("cluster:\n  encrypt: \"not base64!!\"\n", "k.yml");
    expect_contains(m, "k.yml");
    expect_contains(m, "cluster.encrypt");
    expect_contains(m, "base64");
    // 20 bytes: valid base64, wrong size
    m = load_error("cluster:\n  encrypt: \"MDEyMzQ1Njc4OWFiY2RlZjAxMjM=\"\n");
    expect_contains(m, "20 bytes");
    expect_contains(m, "16, 24 or 32");
    EXPECT_TRUE(load_yaml_text("encrypt_key: \"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3\"\n", "t").ok()); // 24 bytes
}

TEST(ConfigErrors, TtlBelowSixty) {
    auto m = load_error("cluster:\n  ttl_on_failure: 59\n", "ttl.yml");
    expect_contains(m, "ttl.yml");
    expect_contains(m, "cluster.ttl_on_failure");
    expect_contains(m, "at least 60");
    expect_contains(load_error("cluster:\n  ttl_on_failure: soon\n"), "integer");
    EXPECT_TRUE(load_yaml_text("cluster:\n  ttl_on_failure: 60\n", "t").ok());
}

TEST(ConfigErrors, UnknownKeySuggests) {
    auto m = load_error("node_nmae: x\n", "u.yml");
    expect_contains(m, "u.yml");
    expect_contains(m, "node_nmae");
    expect_contains(m, "unknown key");
    expect_contains(m, "did you mean 'node_name'");
    expect_contains(load_error("cluster_lisen: 1.2.3.4\n"), "did you mean 'cluster_listen'");
    expect_contains(load_error("cluster:\n  encrpyt: x\n"), "did you mean 'encrypt'");
    expect_contains(load_error("reconnect-timeout: 1h\n"), "did you mean 'reconnect_timeout'");
    const std::string far = load_error("zzzzzzzzzzzz: 1\n");
    expect_contains(far, "unknown key");
    EXPECT_EQ(far.find("did you mean"), std::string::npos);
}

TEST(ConfigErrors, BadValues) {
    expect_contains(load_error("profile: fast\n"), "unknown profile 'fast'");
    expect_contains(load_error("protocol: 9\n"), "not supported");
    expect_contains(load_error("log_level: loud\n"), "invalid log level");
    expect_contains(load_error("reconnect_timeout: 24\n"), "missing unit");
    expect_contains(load_error("retry_interval: 3 days\n"), "retry_interval");
    expect_contains(load_error("event_handlers: [\"member-joined=x.sh\"]\n"), "Invalid event script");
    expect_contains(load_error("user_event_size_limit: 10000\n"), "9216");
    expect_contains(load_error("query_size_limit: 0\n"), "positive");
    expect_contains(load_error("tags: [a, b]\n"), "expected a map");
    expect_contains(load_error("start_join: {a: b}\n"), "expected a list");
    expect_contains(load_error("leave_on_terminate: maybe\n"), "true or false");
    expect_contains(load_error("cluster: [1]\n"), "expected a map");
    expect_contains(load_error("- a\n- b\n"), "top level");
    expect_contains(load_error("a: [\n"), "invalid YAML");
    expect_contains(load_error(std::string("encrypt_key: ") + kKey16 + "\nkeyring_file: /k\n"),
                    "not allowed while using a keyring");
    expect_contains(load_error("tags: {a: b}\ntags_file: /t\n"), "not allowed while using tag files");
}

TEST(ConfigErrors, JsonIsTypedLikeSerf) {
    Config c;
    auto st = apply_json_text(c, R"({"protocol": "5"})", "a.json");
    ASSERT_FALSE(st.ok());
    expect_contains(st.error().message, "a.json: key 'protocol'");
    expect_contains(st.error().message, "integer");
    st = apply_json_text(c, R"({"node_name": 5})", "a.json");
    ASSERT_FALSE(st.ok());
    expect_contains(st.error().message, "expected a string");
    st = apply_json_text(c, R"({"bogus_key": 1})", "b.json");
    ASSERT_FALSE(st.ok());
    expect_contains(st.error().message, "b.json: key 'bogus_key': unknown key");
    st = apply_json_text(c, R"({"start_join": [1]})", "c.json");
    ASSERT_FALSE(st.ok());
    st = apply_json_text(c, "{not json", "d.json");
    ASSERT_FALSE(st.ok());
    expect_contains(st.error().message, "d.json: invalid JSON");
    EXPECT_TRUE(
        apply_json_text(c, R"({"reconnect_timeout": "48h", "tags": {"x": "y"}, "enable_compression": false})",
                        "e.json")
            .ok());
    EXPECT_EQ(c.reconnect_timeout, 48h);
    EXPECT_FALSE(c.enable_compression);
}

TEST(ConfigErrors, FileProblems) {
    auto r = load_config("/nonexistent/clusterd.yml", FlagValues{});
    ASSERT_FALSE(r.ok());
    expect_contains(r.error().message, "/nonexistent/clusterd.yml");
    r = load_config("", flags({{"config_dir", {"/nonexistent-dir"}}}));
    ASSERT_FALSE(r.ok());
    expect_contains(r.error().message, "/nonexistent-dir");
    TempDir dir;
    const std::string bad = dir.write("bad.json", R"({"encrypt_key": "short"})");
    r = load_config("", flags({{"config_file", {bad}}}));
    ASSERT_FALSE(r.ok());
    expect_contains(r.error().message, bad + ": key 'encrypt_key'");
}

TEST(ConfigErrors, FlagErrorsNameTheFlag) {
    auto r = load_config("", flags({{"bind", {"nowhere"}}}));
    ASSERT_FALSE(r.ok());
    expect_contains(r.error().message, "flag -bind");
    r = load_config("", flags({{"tags", {"novalue"}}}));
    ASSERT_FALSE(r.ok());
    expect_contains(r.error().message, "flag -tag");
    expect_contains(r.error().message, "Invalid tag");
    r = load_config("", flags({{"encrypt_key", {"AAAA"}}}));
    ASSERT_FALSE(r.ok());
    expect_contains(r.error().message, "flag -encrypt");
    r = load_config("", flags({{"event_handlers", {"nope=x"}}}));
    ASSERT_FALSE(r.ok());
    expect_contains(r.error().message, "flag -event-handler");
}

TEST(Config, TtlOnFailureIsTheRowTtlAndSerfTimeoutsKeepTheirOwnKeys) {
    auto a = load_yaml_text("cluster:\n  ttl_on_failure: 600\n", "t");
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a->ttl_on_failure, 600);
    EXPECT_EQ(a->reconnect_timeout, 24h);
    EXPECT_EQ(a->tombstone_timeout, 24h);
    auto b = load_yaml_text("reconnect_timeout: 2h\ncluster:\n  ttl_on_failure: 600\n", "t");
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(b->reconnect_timeout, 2h);
    EXPECT_EQ(b->ttl_on_failure, 600);
    EXPECT_TRUE(b->warnings.empty());
    // -config-check prints both, each with its own value, and says what each means.
    auto shown = render_config(*b);
    expect_contains(shown, "ttl_on_failure = 600\n");
    expect_contains(shown, "reconnect_timeout = 2h");
    expect_contains(shown, "# ttl_on_failure (seconds): how long this node's datastore row lives");
    expect_contains(shown, "reconnect_timeout: how long a failed member stays");
    auto d = load_config("", FlagValues{});
    ASSERT_TRUE(d.ok());
    auto shown_d = render_config(*d);
    expect_contains(shown_d, "ttl_on_failure = 3600\n");
    expect_contains(shown_d, "reconnect_timeout = 24h");
    expect_contains(shown_d, "datastore_refresh_interval = 30s\n");
}

TEST(Config, DatastoreRefreshMustBeUnderHalfTheTtl) {
    // The default 30s adapts to a short TTL (ttl / 3) ...
    auto a = load_yaml_text("cluster:\n  ttl_on_failure: 60\n", "t");
    ASSERT_TRUE(a.ok()) << a.error().message;
    EXPECT_EQ(a->datastore_refresh_interval, 20s);
    // ... an explicit value that is too long is an error naming the key.
    auto m = load_error("cluster:\n  ttl_on_failure: 60\n  datastore_refresh_interval: 30s\n", "r.yml");
    expect_contains(m, "r.yml: key 'cluster.datastore_refresh_interval'");
    expect_contains(m, "less than half of ttl_on_failure (60 s)");
    EXPECT_TRUE(
        load_yaml_text("cluster:\n  ttl_on_failure: 60\n  datastore_refresh_interval: 29s\n", "t").ok());
}

TEST(Config, DatastoreFromYamlJsonAndFlag) {
    auto y = load_yaml_text("cluster:\n  datastore: sqlite:/tmp/a.db\n", "t");
    ASSERT_TRUE(y.ok());
    EXPECT_EQ(y->datastore, "sqlite:/tmp/a.db");
    auto top = load_yaml_text("datastore: sqlite:/tmp/top.db\n", "t");
    ASSERT_TRUE(top.ok());
    EXPECT_EQ(top->datastore, "sqlite:/tmp/top.db");
    Config c;
    ASSERT_TRUE(apply_json_text(c, R"({"datastore": "sqlite:/tmp/b.db"})", "s.json").ok());
    EXPECT_EQ(c.datastore, "sqlite:/tmp/b.db");
    auto f = load_config("", flags({{"datastore", {"sqlite:/tmp/c.db"}}}));
    ASSERT_TRUE(f.ok()) << f.error().message;
    EXPECT_EQ(f->datastore, "sqlite:/tmp/c.db");
    expect_contains(load_error("cluster:\n  datastore: mysql://root:pw@x/db\n", "u.yml"),
                    "u.yml: key 'cluster.datastore'");
    EXPECT_EQ(load_error("cluster:\n  datastore: mysql://root:pw@x/db\n").find(":pw@"), std::string::npos);
    expect_contains(load_error("cluster:\n  datastore: \"sqlite:\"\n"), "needs a file path");
}

TEST(Config, ClusterLabelFromYamlJsonAndFlag) {
    auto y = load_yaml_text("cluster:\n  label: blue\n", "t");
    ASSERT_TRUE(y.ok()) << y.error().message;
    EXPECT_EQ(y->cluster_label, "blue");
    auto top = load_yaml_text("cluster_label: green\n", "t");
    ASSERT_TRUE(top.ok());
    EXPECT_EQ(top->cluster_label, "green");
    Config c;
    ASSERT_TRUE(apply_json_text(c, R"({"cluster_label": "red"})", "s.json").ok());
    EXPECT_EQ(c.cluster_label, "red");
    auto f = load_config("", flags({{"cluster_label", {"prod-eu"}}}));
    ASSERT_TRUE(f.ok()) << f.error().message;
    EXPECT_EQ(f->cluster_label, "prod-eu");
    EXPECT_EQ(load_config("", {})->cluster_label, "");
    // One length byte on the wire: 255 bytes at most.
    EXPECT_TRUE(load_yaml_text("cluster_label: " + std::string(255, 'x') + "\n", "t").ok());
    expect_contains(load_error("cluster_label: " + std::string(256, 'x') + "\n", "l.yml"),
                    "longer than the limit of 255");
}

TEST(Config, KongDatabaseKeys) {
    // Kong 0.x's kong.yml: database + postgres map become the datastore URL.
    auto k = load_yaml_text(
        "database: postgres\npostgres:\n  host: db.local\n  port: 5433\n  user: kong\n"
        "  password: \"p@ss word\"\n  database: kongdb\ncassandra:\n  contact_points: [\"x\"]\n",
        "kong.yml");
    ASSERT_TRUE(k.ok()) << k.error().message;
    EXPECT_EQ(k->datastore, "postgres://kong:p%40ss%20word@db.local:5433/kongdb");
    auto shown = render_config(*k);
    expect_contains(shown, "datastore = postgres://kong:***@db.local:5433/kongdb\n");
    EXPECT_EQ(shown.find("p%40ss"), std::string::npos);
    auto pf = load_yaml_text(
        "cluster:\n  datastore: postgres://kong@db/kong\n  datastore_password_file: /etc/clusterd/pg\n", "t");
    ASSERT_TRUE(pf.ok()) << pf.error().message;
    EXPECT_EQ(pf->datastore_password_file, "/etc/clusterd/pg");
    EXPECT_EQ(percent_encode("a b@c:d/e"), "a%20b%40c%3Ad%2Fe");
    auto d = load_yaml_text("database: postgres\n", "kong.yml");
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->datastore, "postgres://kong@127.0.0.1:5432/kong");
    auto m = load_error("database: cassandra\n", "kong.yml");
    expect_contains(m, "kong.yml: key 'database'");
    expect_contains(m, "Cassandra is not supported");
}

TEST(Config, MissingFileSaysWhy) {
    auto r = load_config("/nonexistent-dir-13/clusterd.yml", FlagValues{});
    ASSERT_FALSE(r.ok());
    expect_contains(r.error().message, "/nonexistent-dir-13/clusterd.yml");
    expect_contains(r.error().message, "No such file or directory");
    auto j = load_config("", flags({{"config_file", {"/nonexistent-dir-13/serf.json"}}}));
    ASSERT_FALSE(j.ok());
    expect_contains(j.error().message, "No such file or directory");
}

TEST(Config, AdvertiseTakesHostNamesBindDoesNot) {
    std::string host;
    int port = 0;
    EXPECT_TRUE(check_ip_port("node-1.example:7000", 7946, &host, &port, true).ok());
    EXPECT_EQ(host, "node-1.example");
    EXPECT_EQ(port, 7000);
    EXPECT_TRUE(check_ip_port("[fd00::1]:7946", 7946, &host, &port, true).ok());
    auto bad = check_ip_port("no_such host!", 7946, nullptr, nullptr, true);
    ASSERT_FALSE(bad.ok());
    expect_contains(bad.error().message, "not an IP address or a host name");
    auto bind = check_ip_port("nowhere:7946", 7946);
    ASSERT_FALSE(bind.ok());
    EXPECT_EQ(bind.error().message.find("not an IPv4 address"), std::string::npos) << bind.error().message;
    expect_contains(bind.error().message, "not an IP address");
    auto y = load_yaml_text("cluster:\n  advertise: \"kong-2.internal:7946\"\n", "t");
    ASSERT_TRUE(y.ok()) << y.error().message;
    EXPECT_EQ(y->advertise, "kong-2.internal:7946");
}

TEST(Config, ClampsWithWarnings) {
    auto r = load_yaml_text("retry_interval: 10ms\nbroadcast_timeout: 100ms\n", "t");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->retry_interval, 1s);
    EXPECT_EQ(r->broadcast_timeout, 1s);
    EXPECT_EQ(r->warnings.size(), 2u);
}

TEST(Config, KongFlatKeysAndAutoJoin) {
    auto r = load_yaml_text(
        std::string("cluster_advertise: 10.0.0.5:7946\ncluster_encrypt_key: ") + kKey16 +
            "\ncluster_profile: wan\ncluster_ttl_on_failure: 300\ncluster:\n  auto-join: true\n",
        "kong010.yml");
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->advertise, "10.0.0.5:7946");
    EXPECT_EQ(r->profile, "wan");
    EXPECT_EQ(r->ttl_on_failure, 300);
    ASSERT_EQ(r->warnings.size(), 1u);
    expect_contains(r->warnings[0], "auto-join");
}

TEST(Config, RenderShowsEffectiveValuesAndHidesSecrets) {
    auto r = load_yaml_text(std::string("encrypt_key: ") + kKey16 +
                                "\nrpc_auth: hunter2\ntags: {b: 2, a: 1}\n"
                                "start_join: [x, y]\nreconnect_timeout: 90m\n",
                            "r.yml");
    ASSERT_TRUE(r.ok());
    const std::string text = render_config(*r);
    expect_contains(text, "# yaml file: r.yml\n");
    expect_contains(text, "bind = 0.0.0.0:7946\n");
    expect_contains(text, "encrypt_key = (set)\n");
    expect_contains(text, "rpc_auth = (set)\n");
    expect_contains(text, "tags = {a=1, b=2}\n");
    expect_contains(text, "start_join = [\"x\", \"y\"]\n");
    expect_contains(text, "reconnect_timeout = 1h30m0s\n");
    expect_contains(text,
                    "ttl_on_failure = 3600\n"); // issue 14: the datastore row TTL, not reconnect_timeout
    EXPECT_EQ(text.find(kKey16), std::string::npos);
    EXPECT_EQ(text.find("hunter2"), std::string::npos);
    for (const auto& k : known_keys()) {
        if (k == "disable_compression" || k == "config_check")
            continue;
        expect_contains(text, "\n" + k + " = ");
    }
}

TEST(Config, EveryFlagMapsToAKnownKey) {
    for (const auto& f : agent_flags()) {
        const std::string key = f.key;
        if (key == "config_file" || key == "config_dir")
            continue;
        const auto keys = known_keys();
        EXPECT_NE(std::find(keys.begin(), keys.end(), key), keys.end()) << f.name;
    }
}

TEST(ConfigErrors, HostileInputIsAnErrorNotACrash) {
    EXPECT_FALSE(load_yaml_text(std::string(100000, '['), "deep.yml").ok());
    EXPECT_FALSE(load_yaml_text("a: " + std::string(50000, '{'), "deep2.yml").ok());
    EXPECT_FALSE(load_yaml_text("&a [*a]\n", "alias.yml").ok());
    Config c;
    EXPECT_FALSE(apply_json_text(c, std::string(100000, '['), "deep.json").ok());
    EXPECT_FALSE(load_yaml_text(std::string(100000, 'k') + ": 1\n", "longkey.yml").ok());
}

TEST(ConfigErrors, DiscoverMustFormAnMdnsServiceName) {
    auto ok = load_yaml_text("discover: lab\n", "d.yml");
    ASSERT_TRUE(ok.ok()) << ok.error().message;
    EXPECT_EQ(ok->discover, "lab");
    for (const auto& w : ok->warnings)
        EXPECT_EQ(w.find("discover"), std::string::npos) << w;    // supported now: no warning
    EXPECT_TRUE(load_yaml_text("discover: a.b\n", "d.yml").ok()); // more labels, as in Serf
    expect_contains(load_error("discover: two words\n"), "cannot be an mDNS service name");
    expect_contains(load_error("discover: \"a..b\"\n"), "discover");
    expect_contains(load_error("discover: " + std::string(58, 'x') + "\n"), "57 characters");
    EXPECT_TRUE(load_yaml_text("discover: " + std::string(57, 'x') + "\n", "d.yml").ok());
}

TEST(Config, HttpListenerKeys) {
    // Off by default.
    auto d = load_config("", FlagValues{});
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->http_addr, "");
    // Kong-style YAML name, Serf-style JSON name, flags; the token is never printed.
    auto y = load_yaml_text("cluster_listen_http: 127.0.0.1:8374\nhttp_token: hunter3\n", "k.yml");
    ASSERT_TRUE(y.ok()) << y.error().message;
    EXPECT_EQ(y->http_addr, "127.0.0.1:8374");
    EXPECT_EQ(y->http_token, "hunter3");
    const auto text = render_config(*y);
    expect_contains(text, "http_token = (set)\n");
    EXPECT_EQ(text.find("hunter3"), std::string::npos);
    Config c;
    ASSERT_TRUE(apply_json_text(c, R"({"http_addr": "[::1]:9000"})", "a.json").ok());
    EXPECT_EQ(c.http_addr, "[::1]:9000");
    ASSERT_TRUE(apply_flags(c, flags({{"http_addr", {"127.0.0.1:1"}}, {"http_token", {"t"}}})).ok());
    EXPECT_EQ(c.http_addr, "127.0.0.1:1");
    EXPECT_EQ(c.http_token, "t");
    auto bad = load_yaml_text("cluster_listen_http: localhost:80\n", "bad.yml");
    ASSERT_FALSE(bad.ok());
    expect_contains(bad.error().message, "bad.yml");
}
