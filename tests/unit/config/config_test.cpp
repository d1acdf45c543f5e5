#include "config/config.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace btrt::config {
namespace {

using namespace std::chrono_literals;

namespace fs = std::filesystem;

fs::path repo_root() {
  return fs::path(BTRT_SOURCE_DIR);
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void replace_all(std::string& text, const std::string& from, const std::string& to) {
  for (std::size_t pos = text.find(from); pos != std::string::npos;
       pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
}

std::vector<std::string> messages(const LoadResult& result) {
  std::vector<std::string> out;
  for (const Error& e : result.errors) out.push_back(e.to_string());
  return out;
}

std::string joined(const LoadResult& result) {
  std::string out;
  for (const std::string& m : messages(result)) out += m + "\n";
  return out;
}

net::Cidr cidr(const char* text) {
  return *net::Cidr::parse(text);
}
net::Endpoint endpoint(const char* text) {
  return *net::Endpoint::parse(text);
}

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("btrt_config_test_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  std::string write(const std::string& name, const std::string& text) {
    fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary) << text;
    return path.string();
  }

  // Loads `text` as the file test.conf; expects exactly the `expected` errors.
  static LoadResult load(const std::string& text) { return load_string(text, "test.conf"); }

  static void expect_errors(const std::string& text, const std::vector<std::string>& expected) {
    LoadResult result = load(text);
    EXPECT_EQ(messages(result), expected) << text;
    EXPECT_FALSE(result.config.has_value());
  }

  static Config expect_valid(const std::string& text) {
    LoadResult result = load(text);
    EXPECT_TRUE(result.errors.empty()) << joined(result);
    return result.config.value_or(Config{});
  }

  fs::path dir_;
};

// ---------------------------------------------------------------------------------------
// Whole files

constexpr const char* kSeedConfig = R"(logging:
  path:          "/var/log/btrt"
  level:         "info"
  switch_time:   "01:00:00"
database:
  url:          "tcp://127.0.0.1:3306"
  user:         "root"
  password:     "root"
  schema:       "btrt"
peer_groups:
  - name:       "local peers"
    priority:   0
    cidr_file:  "/etc/btrt/local_cidrs.conf"
    cidr_list:
      -
  - name: "neighboring peers"
    priority: 1
    cidr_file: "/etc/btrt/neighboring_cidrs.conf"
    cidr_list:
      -
neighbors:
  - name: "the nearest retracker"
    refresh_interval: 1800
    peers_expiry_interval: 7200
    announce_request: "http://retracker.example.net/announce?info_hash={info_hash}&peer_id=0123456789012345678A&port=6882&downloaded=0&uploaded=0&left=4194304&event=started&compact=1&numwant=1000"
)";

void expect_default_server(const Server& s) {
  Server d;
  EXPECT_EQ(s.listen, d.listen);
  EXPECT_EQ(s.threads, d.threads);
  EXPECT_EQ(s.hostnames, d.hostnames);
  EXPECT_EQ(s.trusted_sources, d.trusted_sources);
  EXPECT_EQ(s.max_connections, d.max_connections);
  EXPECT_EQ(s.request_timeout, d.request_timeout);
  EXPECT_EQ(s.keepalive_timeout, d.keepalive_timeout);
  EXPECT_EQ(s.admin_allow, d.admin_allow);
}

void expect_default_tracker(const Tracker& t) {
  Tracker d;
  EXPECT_EQ(t.announce_interval, d.announce_interval);
  EXPECT_EQ(t.min_interval, d.min_interval);
  EXPECT_EQ(t.peer_expiry, d.peer_expiry);
  EXPECT_EQ(t.numwant_default, d.numwant_default);
  EXPECT_EQ(t.numwant_max, d.numwant_max);
  EXPECT_EQ(t.locality_cutoff, d.locality_cutoff);
  EXPECT_EQ(t.locality_seeders, d.locality_seeders);
  EXPECT_EQ(t.max_scrape_hashes, d.max_scrape_hashes);
  EXPECT_EQ(t.full_scrape, d.full_scrape);
  EXPECT_EQ(t.max_torrents, d.max_torrents);
  EXPECT_EQ(t.max_peers_per_torrent, d.max_peers_per_torrent);
}

void expect_default_logging(const Logging& l) {
  Logging d;
  EXPECT_EQ(l.path, d.path);
  EXPECT_EQ(l.level, d.level);
  EXPECT_EQ(l.switch_time, d.switch_time);
}

void expect_default_database(const Database& db) {
  Database d;
  EXPECT_EQ(db.url, d.url);
  EXPECT_EQ(db.kind, d.kind);
  EXPECT_EQ(db.location, d.location);
  EXPECT_EQ(db.user, d.user);
  EXPECT_EQ(db.password, d.password);
  EXPECT_EQ(db.schema, d.schema);
  EXPECT_EQ(db.flush_interval, d.flush_interval);
  EXPECT_EQ(db.max_pending, d.max_pending);
}

void expect_default_forwarding(const Forwarding& f) {
  Forwarding d;
  EXPECT_EQ(f.enabled, d.enabled);
  EXPECT_EQ(f.mode, d.mode);
  EXPECT_EQ(f.timeout, d.timeout);
  EXPECT_EQ(f.max_concurrent, d.max_concurrent);
  EXPECT_EQ(f.pass_client_ip, d.pass_client_ip);
  EXPECT_EQ(f.allowed_destinations, d.allowed_destinations);
  EXPECT_EQ(f.dns_servers, d.dns_servers);
}

void expect_default_hashlist(const Hashlist& h) {
  Hashlist d;
  EXPECT_EQ(h.path, d.path);
  EXPECT_EQ(h.interval, d.interval);
  EXPECT_EQ(h.groups, d.groups);
  EXPECT_EQ(h.min_seeders, d.min_seeders);
}

TEST_F(ConfigTest, SeedProductConfigurationLoadsUnchanged) {
  std::string local = write("local_cidrs.conf", "10.0.0.0/8\n# comment\n\n192.168.1.0/24\n");
  std::string neighboring = write("neighboring_cidrs.conf", "");
  std::string text = kSeedConfig;
  replace_all(text, "/etc/btrt/local_cidrs.conf", local);
  replace_all(text, "/etc/btrt/neighboring_cidrs.conf", neighboring);
  std::string path = write("btrt.conf", text);

  LoadResult result = load_file(path);
  ASSERT_TRUE(result.errors.empty()) << joined(result);
  ASSERT_TRUE(result.config);
  const Config& c = *result.config;
  EXPECT_EQ(c.file, path);
  EXPECT_EQ(c.logging.path, "/var/log/btrt");
  EXPECT_EQ(c.logging.level, LogLevel::info);
  EXPECT_EQ(c.logging.switch_time, 3600u);
  EXPECT_EQ(c.logging.keep_days, 30u);
  EXPECT_EQ(c.database.url, "tcp://127.0.0.1:3306");
  EXPECT_EQ(c.database.kind, Database::Kind::mysql_tcp);
  EXPECT_EQ(c.database.location, "127.0.0.1:3306");
  EXPECT_EQ(c.database.user, "root");
  EXPECT_EQ(c.database.password, "root");
  EXPECT_EQ(c.database.schema, "btrt");
  ASSERT_EQ(c.peer_groups.size(), 2u);
  EXPECT_EQ(c.peer_groups[0].name, "local peers");
  EXPECT_EQ(c.peer_groups[0].priority, 0u);
  EXPECT_EQ(c.peer_groups[0].cidr_file, local);
  EXPECT_EQ(c.peer_groups[0].cidrs,
            (std::vector<net::Cidr>{cidr("10.0.0.0/8"), cidr("192.168.1.0/24")}));
  EXPECT_EQ(c.peer_groups[1].name, "neighboring peers");
  EXPECT_EQ(c.peer_groups[1].priority, 1u);
  EXPECT_TRUE(c.peer_groups[1].cidrs.empty());
  ASSERT_EQ(c.neighbors.size(), 1u);
  EXPECT_EQ(c.neighbors[0].name, "the nearest retracker");
  EXPECT_EQ(c.neighbors[0].refresh_interval, 1800s);
  EXPECT_EQ(c.neighbors[0].peers_expiry_interval, 7200s);
  EXPECT_TRUE(c.neighbors[0].announce_request.starts_with(
      "http://retracker.example.net/announce?info_hash={info_hash}&peer_id="));
  EXPECT_EQ(c.neighbors[0].timeout, 10s);
  EXPECT_EQ(c.neighbors[0].max_concurrent, 32u);
  // Sections the seed does not have take their defaults.
  expect_default_server(c.server);
  expect_default_tracker(c.tracker);
  expect_default_forwarding(c.forwarding);
  expect_default_hashlist(c.hashlist);
}

TEST_F(ConfigTest, SeedConfigurationWithoutItsCidrFilesNamesThem) {
  LoadResult result = load(kSeedConfig);
  EXPECT_EQ(messages(result),
            (std::vector<std::string>{
                "test.conf:13: cidr_file '/etc/btrt/local_cidrs.conf': cannot open: No such "
                "file or directory",
                "test.conf:18: cidr_file '/etc/btrt/neighboring_cidrs.conf': cannot open: No "
                "such file or directory"}));
}

TEST_F(ConfigTest, ShippedDefaultFileIsValidAndHoldsTheDefaults) {
  fs::path etc = repo_root() / "etc";
  std::string text = read_text(etc / "btrt.conf.default");
  ASSERT_FALSE(text.empty());
  std::string local = write("local_cidrs.conf", read_text(etc / "local_cidrs.conf"));
  std::string neighboring =
      write("neighboring_cidrs.conf", read_text(etc / "neighboring_cidrs.conf"));
  ASSERT_NE(text.find("/etc/btrt/local_cidrs.conf"), std::string::npos);
  ASSERT_NE(text.find("/etc/btrt/neighboring_cidrs.conf"), std::string::npos);
  replace_all(text, "/etc/btrt/local_cidrs.conf", local);
  replace_all(text, "/etc/btrt/neighboring_cidrs.conf", neighboring);

  LoadResult result = load_file(write("btrt.conf", text));
  ASSERT_TRUE(result.errors.empty()) << joined(result);
  const Config& c = *result.config;
  expect_default_server(c.server);
  expect_default_tracker(c.tracker);
  expect_default_logging(c.logging);
  expect_default_database(c.database);
  expect_default_forwarding(c.forwarding);
  expect_default_hashlist(c.hashlist);
  ASSERT_EQ(c.peer_groups.size(), 2u);
  EXPECT_EQ(c.peer_groups[0].name, "local peers");
  EXPECT_FALSE(c.peer_groups[0].cidrs.empty());  // the example file's prefixes
  EXPECT_EQ(c.peer_groups[1].name, "neighboring peers");
  EXPECT_FALSE(c.peer_groups[1].cidrs.empty());
  ASSERT_EQ(c.neighbors.size(), 1u);
  Neighbor n;
  EXPECT_EQ(c.neighbors[0].refresh_interval, n.refresh_interval);
  EXPECT_EQ(c.neighbors[0].peers_expiry_interval, n.peers_expiry_interval);
  EXPECT_EQ(c.neighbors[0].timeout, n.timeout);
  EXPECT_EQ(c.neighbors[0].max_concurrent, n.max_concurrent);

  // Every key of the specification appears (set, not only in a comment).
  for (const char* key : {"server:",
                          "listen:",
                          "threads:",
                          "hostnames:",
                          "trusted_sources:",
                          "max_connections:",
                          "request_timeout:",
                          "keepalive_timeout:",
                          "admin_allow:",
                          "tracker:",
                          "announce_interval:",
                          "min_interval:",
                          "peer_expiry:",
                          "numwant_default:",
                          "numwant_max:",
                          "locality_cutoff:",
                          "locality_seeders:",
                          "max_scrape_hashes:",
                          "full_scrape:",
                          "max_torrents:",
                          "max_peers_per_torrent:",
                          "logging:",
                          "path:",
                          "level:",
                          "switch_time:",
                          "database:",
                          "url:",
                          "user:",
                          "password:",
                          "schema:",
                          "flush_interval:",
                          "max_pending:",
                          "peer_groups:",
                          "name:",
                          "priority:",
                          "cidr_file:",
                          "cidr_list:",
                          "neighbors:",
                          "refresh_interval:",
                          "peers_expiry_interval:",
                          "announce_request:",
                          "timeout:",
                          "max_concurrent:",
                          "forwarding:",
                          "enabled:",
                          "mode:",
                          "pass_client_ip:",
                          "allowed_destinations:",
                          "dns_servers:",
                          "hashlist:",
                          "interval:",
                          "groups:",
                          "min_seeders:"}) {
    bool found = false;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      auto start = line.find_first_not_of(" -");
      if (start != std::string::npos && line.compare(start, std::strlen(key), key) == 0) {
        found = true;
      }
    }
    EXPECT_TRUE(found) << key;
  }
}

TEST_F(ConfigTest, ExampleCidrFilesAreValid) {
  fs::path etc = repo_root() / "etc";
  for (const char* name : {"local_cidrs.conf", "neighboring_cidrs.conf", "dev_local_cidrs.conf",
                           "dev_partner_cidrs.conf"}) {
    std::vector<net::Cidr> prefixes;
    EXPECT_TRUE(load_cidr_file((etc / name).string(), prefixes).empty()) << name;
    EXPECT_FALSE(prefixes.empty()) << name;
  }
}

TEST_F(ConfigTest, DevelopmentConfigurationOfTheRepositoryLoads) {
  fs::path file = repo_root() / "etc" / "btrt.dev.conf";
  LoadResult result = load_file(file.string());
  ASSERT_TRUE(result.errors.empty()) << joined(result);
  const Config& c = *result.config;
  EXPECT_EQ(c.server.listen, std::vector<net::Endpoint>{endpoint("127.0.0.1:6969")});
  EXPECT_EQ(c.logging.path, "var/log");
  EXPECT_EQ(c.database.kind, Database::Kind::sqlite);
  EXPECT_EQ(c.database.location, "var/lib/btrt.db");
  ASSERT_EQ(c.peer_groups.size(), 2u);
  // Relative CIDR files are taken relative to the configuration file's directory.
  EXPECT_EQ(c.peer_groups[0].cidr_file, (file.parent_path() / "dev_local_cidrs.conf").string());
  EXPECT_EQ(c.peer_groups[0].cidrs, std::vector<net::Cidr>{cidr("127.1.0.0/16")});
  EXPECT_EQ(c.peer_groups[1].cidrs, std::vector<net::Cidr>{cidr("127.2.0.0/16")});
  EXPECT_LT(c.peer_groups[0].priority, c.peer_groups[1].priority);
}

TEST_F(ConfigTest, EmptyOrCommentOnlyFileMeansAllDefaults) {
  for (const char* text : {"", "\n\n", "# nothing here\n  # still nothing\n", "---\n"}) {
    Config c = expect_valid(text);
    expect_default_server(c.server);
    expect_default_tracker(c.tracker);
    expect_default_logging(c.logging);
    expect_default_database(c.database);
    expect_default_forwarding(c.forwarding);
    expect_default_hashlist(c.hashlist);
    EXPECT_TRUE(c.peer_groups.empty());
    EXPECT_TRUE(c.neighbors.empty());
    EXPECT_EQ(c.file, "test.conf");
  }
}

TEST_F(ConfigTest, EmptySectionsTakeTheirDefaults) {
  Config c = expect_valid(
      "server:\ntracker:\nlogging:\ndatabase:\npeer_groups:\nneighbors:\n"
      "forwarding:\nhashlist:\n");
  expect_default_server(c.server);
  expect_default_database(c.database);
  EXPECT_TRUE(c.peer_groups.empty());
}

TEST_F(ConfigTest, SeedSectionsWithoutDatabaseMeanSqlite) {
  Config c = expect_valid(R"(logging:
  level: debug
peer_groups:
  - name: "local peers"
    priority: 0
    cidr_list: ["10.0.0.0/8", "2001:db8::/32"]
neighbors: []
)");
  expect_default_database(c.database);
  EXPECT_EQ(c.database.kind, Database::Kind::sqlite);
  EXPECT_EQ(c.logging.level, LogLevel::debug);
  ASSERT_EQ(c.peer_groups.size(), 1u);
  EXPECT_EQ(c.peer_groups[0].cidrs,
            (std::vector<net::Cidr>{cidr("10.0.0.0/8"), cidr("2001:db8::/32")}));
}

TEST_F(ConfigTest, EveryKeyIsRead) {
  Config c = expect_valid(R"(server:
  listen: ["127.0.0.1:8080", "[::1]:8080"]
  threads: 4
  hostnames: ["Retracker.LOCAL", "tracker.example.net"]
  trusted_sources: ["10.1.0.0/16"]
  max_connections: 5000
  request_timeout: 3
  keepalive_timeout: 7
  admin_allow: ["10.2.0.0/16", "::1"]
tracker:
  announce_interval: 1200
  min_interval: 600
  peer_expiry: 2700
  numwant_default: 30
  numwant_max: 100
  locality_cutoff: 0
  locality_seeders: 3
  max_scrape_hashes: 16
  full_scrape: true
  max_torrents: 5000000000
  max_peers_per_torrent: 1000
logging:
  path: /tmp/btrt-logs
  level: WARNING
  switch_time: "23:59:58"
  keep_days: 7
database:
  url: "unix:///run/mysqld/mysqld.sock"
  user: tracker
  password: 12345
  schema: trk
  flush_interval: 2
  max_pending: 42
forwarding:
  enabled: no
  mode: always
  timeout: 2
  max_concurrent: 10
  pass_client_ip: yes
  allowed_destinations: ["192.168.5.0/24"]
  dns_servers: ["127.0.0.1:5353", "10.1.2.3", "[::1]:53", "::2"]
peer_groups:
  - name: g
    priority: 3
hashlist:
  path: /tmp/hashlist.bin
  interval: 0
  groups: ["g"]
  min_seeders: 2
)");
  EXPECT_EQ(c.server.listen,
            (std::vector<net::Endpoint>{endpoint("127.0.0.1:8080"), endpoint("[::1]:8080")}));
  EXPECT_EQ(c.server.threads, 4u);
  EXPECT_EQ(c.server.hostnames,
            (std::vector<std::string>{"retracker.local", "tracker.example.net"}));
  EXPECT_EQ(c.server.trusted_sources, std::vector<net::Cidr>{cidr("10.1.0.0/16")});
  EXPECT_EQ(c.server.max_connections, 5000u);
  EXPECT_EQ(c.server.request_timeout, 3s);
  EXPECT_EQ(c.server.keepalive_timeout, 7s);
  EXPECT_EQ(c.server.admin_allow, (std::vector<net::Cidr>{cidr("10.2.0.0/16"), cidr("::1")}));
  EXPECT_EQ(c.tracker.announce_interval, 1200s);
  EXPECT_EQ(c.tracker.min_interval, 600s);
  EXPECT_EQ(c.tracker.peer_expiry, 2700s);
  EXPECT_EQ(c.tracker.numwant_default, 30u);
  EXPECT_EQ(c.tracker.numwant_max, 100u);
  EXPECT_EQ(c.tracker.locality_cutoff, 0u);
  EXPECT_EQ(c.tracker.locality_seeders, 3u);
  EXPECT_EQ(c.tracker.max_scrape_hashes, 16u);
  EXPECT_TRUE(c.tracker.full_scrape);
  EXPECT_EQ(c.tracker.max_torrents, 5000000000u);
  EXPECT_EQ(c.tracker.max_peers_per_torrent, 1000u);
  EXPECT_EQ(c.logging.path, "/tmp/btrt-logs");
  EXPECT_EQ(c.logging.level, LogLevel::warning);
  EXPECT_EQ(c.logging.switch_time, 23u * 3600 + 59 * 60 + 58);
  EXPECT_EQ(c.logging.keep_days, 7u);
  EXPECT_EQ(c.database.kind, Database::Kind::mysql_unix);
  EXPECT_EQ(c.database.location, "/run/mysqld/mysqld.sock");
  EXPECT_EQ(c.database.user, "tracker");
  EXPECT_EQ(c.database.password, "12345");
  EXPECT_EQ(c.database.schema, "trk");
  EXPECT_EQ(c.database.flush_interval, 2s);
  EXPECT_EQ(c.database.max_pending, 42u);
  EXPECT_FALSE(c.forwarding.enabled);
  EXPECT_EQ(c.forwarding.mode, Forwarding::Mode::always);
  EXPECT_EQ(c.forwarding.timeout, 2s);
  EXPECT_EQ(c.forwarding.max_concurrent, 10u);
  EXPECT_TRUE(c.forwarding.pass_client_ip);
  EXPECT_EQ(c.forwarding.allowed_destinations, std::vector<net::Cidr>{cidr("192.168.5.0/24")});
  EXPECT_EQ(c.forwarding.dns_servers,
            (std::vector<net::Endpoint>{endpoint("127.0.0.1:5353"), endpoint("10.1.2.3:53"),
                                        endpoint("[::1]:53"), endpoint("[::2]:53")}));
  EXPECT_EQ(c.hashlist.path, "/tmp/hashlist.bin");
  EXPECT_EQ(c.hashlist.interval, 0s);
  EXPECT_EQ(c.hashlist.groups, std::vector<std::string>{"g"});
  EXPECT_EQ(c.hashlist.min_seeders, 2u);
}

TEST_F(ConfigTest, QuotedNumbersAndBooleansAreAccepted) {
  Config c = expect_valid(R"(tracker:
  announce_interval: "1800"
  min_interval: '60'
  full_scrape: "true"
  max_torrents: +7
neighbors:
  - name: n
    announce_request: "http://x.example/announce?info_hash={info_hash}"
    refresh_interval: "600"
)");
  EXPECT_EQ(c.tracker.announce_interval, 1800s);
  EXPECT_EQ(c.tracker.min_interval, 60s);
  EXPECT_TRUE(c.tracker.full_scrape);
  EXPECT_EQ(c.tracker.max_torrents, 7u);
  EXPECT_EQ(c.neighbors.at(0).refresh_interval, 600s);
}

// ---------------------------------------------------------------------------------------
// Errors

TEST_F(ConfigTest, DnsServersMustBeAddresses) {
  expect_errors("forwarding:\n  dns_servers: [\"dns.example\", \"127.0.0.1:0\"]\n",
                {"test.conf:2: forwarding.dns_servers: 'dns.example' is not a DNS server address "
                 "(expected a.b.c.d[:port], v6 or [v6]:port)",
                 "test.conf:2: forwarding.dns_servers: '127.0.0.1:0': port must be 1-65535"});
}

TEST_F(ConfigTest, UnknownKeyGetsAHint) {
  expect_errors("server:\n  threads: 2\n  lisen: [\"0.0.0.0:80\"]\n",
                {"test.conf:3: unknown key 'lisen' in section 'server' (did you mean 'listen'?)"});
  expect_errors("tracker:\n  numwant_mx: 10\n",
                {"test.conf:2: unknown key 'numwant_mx' in section 'tracker' (did you mean "
                 "'numwant_max'?)"});
  expect_errors("peer_groups:\n  - name: a\n    priority: 0\n    cidr_lst: []\n",
                {"test.conf:4: unknown key 'cidr_lst' in section 'peer_groups' (did you mean "
                 "'cidr_list'?)"});
  expect_errors(
      "neighbors:\n  - name: a\n    announce_request: \"http://a/?{info_hash}\"\n"
      "    refresh: 5\n",
      {"test.conf:4: unknown key 'refresh' in section 'neighbors' (did you mean "
       "'refresh_interval'?)"});
  expect_errors("logging:\n  Level: info\n",
                {"test.conf:2: unknown key 'Level' in section 'logging' (did you mean "
                 "'level'?)"});
  expect_errors("tracker:\n  max: 5\n",  // ambiguous: max_scrape_hashes, max_torrents, ...
                {"test.conf:2: unknown key 'max' in section 'tracker'"});
  expect_errors(
      "neighbors:\n  - name: a\n    announce_request: \"http://a/?{info_hash}\"\n"
      "    max: 5\n",
      {"test.conf:4: unknown key 'max' in section 'neighbors' (did you mean "
       "'max_concurrent'?)"});
  expect_errors("server:\n  colour: blue\n", {"test.conf:2: unknown key 'colour' in section "
                                              "'server'"});
}

TEST_F(ConfigTest, UnknownSectionGetsAHint) {
  expect_errors("# comment\nsever:\n  threads: 1\n",
                {"test.conf:2: unknown section 'sever' (did you mean 'server'?)"});
  expect_errors("neighbours: []\n",
                {"test.conf:1: unknown section 'neighbours' (did you mean 'neighbors'?)"});
  expect_errors("metrics: {}\n", {"test.conf:1: unknown section 'metrics'"});
}

TEST_F(ConfigTest, RepeatedKeysAndSectionsAreErrors) {
  expect_errors("server:\n  threads: 1\n  threads: 2\n",
                {"test.conf:3: key 'threads' given twice in section 'server' (first at line 2)"});
  expect_errors("logging:\n  level: info\nlogging:\n  level: debug\n",
                {"test.conf:3: section 'logging' given twice (first at line 1)"});
}

TEST_F(ConfigTest, WrongTypesNameKeyAndValue) {
  expect_errors("tracker:\n  numwant_max: abc\n",
                {"test.conf:2: tracker.numwant_max: expected a non-negative integer, got 'abc'"});
  expect_errors("tracker:\n  peer_expiry: -5\n",
                {"test.conf:2: tracker.peer_expiry: expected a non-negative integer, got '-5'"});
  expect_errors("tracker:\n  peer_expiry: 1.5\n",
                {"test.conf:2: tracker.peer_expiry: expected a non-negative integer, got '1.5'"});
  expect_errors("tracker:\n  peer_expiry:\n",
                {"test.conf:2: tracker.peer_expiry: expected a non-negative integer, got "
                 "nothing"});
  expect_errors("tracker:\n  peer_expiry: [1]\n",
                {"test.conf:2: tracker.peer_expiry: expected a non-negative integer, got a "
                 "list"});
  expect_errors("tracker:\n  full_scrape: maybe\n",
                {"test.conf:2: tracker.full_scrape: expected true or false, got 'maybe'"});
  expect_errors("database:\n  user: {a: b}\n",
                {"test.conf:2: database.user: expected a string, got a mapping"});
  expect_errors("server: [1, 2]\n",
                {"test.conf:1: server: expected a mapping of keys, got a list"});
  expect_errors("- a\n- b\n",
                {"test.conf:1: expected a mapping of sections (server:, tracker:, ...), got a "
                 "list"});
}

TEST_F(ConfigTest, OutOfRangeValues) {
  expect_errors("server:\n  request_timeout: 0\n",
                {"test.conf:2: server.request_timeout: must be at least 1, got '0'"});
  expect_errors("server:\n  threads: 100000\n",
                {"test.conf:2: server.threads: must be at most 1024, got '100000'"});
  expect_errors("tracker:\n  numwant_max: 4294967296\n",
                {"test.conf:2: tracker.numwant_max: must be at most 4294967295, got "
                 "'4294967296'"});
  expect_errors("tracker:\n  max_torrents: 99999999999999999999999\n",
                {"test.conf:2: tracker.max_torrents: must be at most 18446744073709551615, got "
                 "'99999999999999999999999'"});
  expect_errors("peer_groups:\n  - name: a\n    priority: 99999999999\n",
                {"test.conf:3: peer_groups[0].priority: must be at most 4294967295, got "
                 "'99999999999'"});
  expect_errors("tracker:\n  announce_interval: 99999999\n",
                {"test.conf:2: tracker.announce_interval: must be at most 31536000, got "
                 "'99999999'"});
  expect_errors("hashlist:\n  min_seeders: 0\n",
                {"test.conf:2: hashlist.min_seeders: must be at least 1, got '0'"});
}

TEST_F(ConfigTest, NumwantDefaultAboveNumwantMaxIsAnError) {
  expect_errors("tracker:\n  numwant_default: 300\n",
                {"test.conf:2: tracker.numwant_default (300) must not exceed tracker.numwant_max "
                 "(200)"});
  expect_errors("tracker:\n  numwant_max: 20\n",
                {"test.conf:2: tracker.numwant_default (50) must not exceed tracker.numwant_max "
                 "(20)"});
  expect_errors("tracker:\n  min_interval: 2000\n",
                {"test.conf:2: tracker.min_interval (2000) must not exceed "
                 "tracker.announce_interval (1800)"});
  Config c = expect_valid("tracker:\n  numwant_default: 200\n  numwant_max: 200\n");
  EXPECT_EQ(c.tracker.numwant_default, 200u);
}

TEST_F(ConfigTest, BadCidrsInListsNameTheValue) {
  expect_errors(R"(server:
  trusted_sources:
    - "10.0.0.0/8"
    - "10.0.0.0/33"
    - "bogus"
  admin_allow: ["1.2.3.4/x"]
forwarding:
  allowed_destinations: [ "fe80::/129" ]
)",
                {"test.conf:4: server.trusted_sources: '10.0.0.0/33': '33' is not a prefix "
                 "length (0-32)",
                 "test.conf:5: server.trusted_sources: 'bogus' is not an IP address",
                 "test.conf:6: server.admin_allow: '1.2.3.4/x': 'x' is not a prefix length "
                 "(0-32)",
                 "test.conf:8: forwarding.allowed_destinations: 'fe80::/129': '129' is not a "
                 "prefix length (0-128)"});
  expect_errors(
      "peer_groups:\n  - name: a\n    priority: 0\n    cidr_list:\n      - 10.0.0.0/8\n"
      "      - 300.1.1.1\n",
      {"test.conf:6: peer_groups[0].cidr_list: '300.1.1.1' is not an IP address"});
}

TEST_F(ConfigTest, BadListenAddresses) {
  expect_errors(R"(server:
  listen:
    - "0.0.0.0"
    - "localhost:80"
    - "::1:80"
    - "0.0.0.0:0"
    - "0.0.0.0:65536"
)",
                {"test.conf:3: server.listen: '0.0.0.0' is not a listen address (expected "
                 "a.b.c.d:port or [v6]:port)",
                 "test.conf:4: server.listen: 'localhost:80' is not a listen address (expected "
                 "a.b.c.d:port or [v6]:port)",
                 "test.conf:5: server.listen: '::1:80' is not a listen address (expected "
                 "a.b.c.d:port or [v6]:port)",
                 "test.conf:6: server.listen: '0.0.0.0:0': port must be 1-65535",
                 "test.conf:7: server.listen: '0.0.0.0:65536' is not a listen address (expected "
                 "a.b.c.d:port or [v6]:port)"});
  expect_errors("server:\n  listen: []\n",
                {"test.conf:2: server.listen: at least one listen address is required"});
  expect_errors("server:\n  listen: [\"1.2.3.4:80\", \"1.2.3.4:80\"]\n",
                {"test.conf:2: server.listen: '1.2.3.4:80' is listed twice"});
  // An unquoted [v6]:port in a block list is a YAML flow list: say to quote it.
  expect_errors("server:\n  listen:\n    - [::1]:80\n",
                {"test.conf:3: invalid YAML: end of sequence not found (quote IPv6 addresses, "
                 "e.g. \"[::1]:80\")"});
  expect_errors("server:\n  listen:\n    - [[::1]]\n",
                {"test.conf:3: server.listen: expected a string item, got a list (quote values "
                 "that contain '[', ']', ':' or '#')"});
  expect_errors("server:\n  listen:\n    - {a: 1}\n",
                {"test.conf:3: server.listen: expected a string item, got a mapping (quote "
                 "values that contain '[', ']', ':' or '#')"});
  // A single string is a list of one.
  Config c = expect_valid("server:\n  listen: \"[::]:6969\"\n");
  EXPECT_EQ(c.server.listen, std::vector<net::Endpoint>{endpoint("[::]:6969")});
}

TEST_F(ConfigTest, LogLevelAndSwitchTime) {
  expect_errors("logging:\n  level: verbose\n",
                {"test.conf:2: logging.level must be one of critical, error, warning, info, "
                 "diagnostic, debug, got 'verbose'"});
  for (const char* bad :
       {"24:00:00", "1:00:00", "01:60:00", "01:00:60", "01:00", "ab:cd:ef", "01:00:00:00"}) {
    expect_errors(std::string("logging:\n  path: /x\n  switch_time: \"") + bad + "\"\n",
                  {std::string("test.conf:3: logging.switch_time: expected HH:MM:SS (00:00:00 "
                               "to 23:59:59), got '") +
                   bad + "'"});
  }
  EXPECT_EQ(expect_valid("logging:\n  switch_time: 00:00:00\n").logging.switch_time, 0u);
  EXPECT_EQ(expect_valid("logging:\n  switch_time: '23:59:59'\n").logging.switch_time, 86399u);
  EXPECT_EQ(expect_valid("logging:\n  level: Diagnostic\n").logging.level, LogLevel::diagnostic);
  EXPECT_EQ(expect_valid("logging:\n  keep_days: 0\n").logging.keep_days, 0u);
  EXPECT_FALSE(load("logging:\n  keep_days: -1\n").errors.empty());
}

TEST_F(ConfigTest, LogLevelNames) {
  for (LogLevel level : {LogLevel::critical, LogLevel::error, LogLevel::warning, LogLevel::info,
                         LogLevel::diagnostic, LogLevel::debug}) {
    EXPECT_EQ(parse_log_level(to_string(level)), level);
  }
  EXPECT_EQ(to_string(LogLevel::diagnostic), "diagnostic");
  EXPECT_EQ(parse_log_level("DEBUG"), LogLevel::debug);
  EXPECT_FALSE(parse_log_level("warn"));
  EXPECT_FALSE(parse_log_level(""));
}

TEST_F(ConfigTest, DatabaseUrlKinds) {
  struct Case {
    const char* url;
    Database::Kind kind;
    const char* location;
  };
  for (const Case& c : {
           Case{"sqlite:///var/lib/btrt/btrt.db", Database::Kind::sqlite, "/var/lib/btrt/btrt.db"},
           Case{"sqlite://var/lib/btrt.db", Database::Kind::sqlite, "var/lib/btrt.db"},
           Case{"tcp://127.0.0.1:3306", Database::Kind::mysql_tcp, "127.0.0.1:3306"},
           Case{"tcp://db.example.net:3307", Database::Kind::mysql_tcp, "db.example.net:3307"},
           Case{"tcp://[::1]:3306", Database::Kind::mysql_tcp, "[::1]:3306"},
           Case{"tcp://db.example.net", Database::Kind::mysql_tcp, "db.example.net:3306"},
           Case{"unix:///run/mysqld/mysqld.sock", Database::Kind::mysql_unix,
                "/run/mysqld/mysqld.sock"},
       }) {
    Config config = expect_valid(std::string("database:\n  url: \"") + c.url + "\"\n");
    EXPECT_EQ(config.database.url, c.url);
    EXPECT_EQ(config.database.kind, c.kind) << c.url;
    EXPECT_EQ(config.database.location, c.location) << c.url;
  }
  expect_errors("database:\n  user: a\n  url: \"postgres://localhost/btrt\"\n",
                {"test.conf:3: database.url: 'postgres://localhost/btrt': unsupported URL "
                 "(expected sqlite://PATH, tcp://HOST:PORT or unix:///PATH)"});
  expect_errors("database:\n  url: \"tcp://127.0.0.1:99999\"\n",
                {"test.conf:2: database.url: 'tcp://127.0.0.1:99999': port must be 1-65535"});
  expect_errors("database:\n  url: \"tcp://:3306\"\n",
                {"test.conf:2: database.url: 'tcp://:3306': expected tcp://HOST:PORT"});
  expect_errors("database:\n  url: \"unix://run/mysqld.sock\"\n",
                {"test.conf:2: database.url: 'unix://run/mysqld.sock': expected "
                 "unix:///absolute/path/to/mysqld.sock"});
  expect_errors("database:\n  url: \"sqlite://\"\n",
                {"test.conf:2: database.url: 'sqlite://': names no database file "
                 "(sqlite:///path/to/file.db)"});
  expect_errors("database:\n  url: \"tcp://127.0.0.1:3306\"\n  schema: \"\"\n",
                {"test.conf:2: database.schema: a MySQL database needs a schema name"});
}

TEST_F(ConfigTest, ForwardingMode) {
  expect_errors("forwarding:\n  mode: sometimes\n",
                {"test.conf:2: forwarding.mode: must be when_needed or always, got 'sometimes'"});
  EXPECT_EQ(expect_valid("forwarding:\n  mode: always\n").forwarding.mode,
            Forwarding::Mode::always);
}

TEST_F(ConfigTest, PeerGroupRules) {
  expect_errors(R"(peer_groups:
  - name: "a"
    priority: 0
  - priority: 1
    cidr_list: ["10.0.0.0/8"]
  - name: "b"
  - name: "a"
    priority: 2
  - name: "other"
    priority: 3
  - name: ""
    priority: 4
  - "just text"
)",
                {"test.conf:4: peer_groups[1]: missing 'name'",
                 "test.conf:6: peer_groups[2]: missing 'priority'",
                 "test.conf:7: peer_groups[3].name: duplicate peer group name 'a' (first at "
                 "line 2)",
                 "test.conf:9: peer_groups[4].name: 'other' is the implicit group of peers in no "
                 "group; choose another name",
                 "test.conf:11: peer_groups[5].name: must not be empty",
                 "test.conf:13: peer_groups[6]: expected a mapping of keys, got 'just text'"});
  expect_errors("peer_groups:\n  name: a\n  priority: 0\n",
                {"test.conf:1: peer_groups: expected a list of peer groups (each starting with "
                 "'- '), got a mapping"});
}

TEST_F(ConfigTest, AtMost254PeerGroups) {
  auto groups = [](std::size_t count) {
    std::string text = "peer_groups:\n";
    for (std::size_t i = 0; i < count; ++i) {
      text += "  - name: g" + std::to_string(i) + "\n    priority: " + std::to_string(i) + "\n";
    }
    return text;
  };
  EXPECT_EQ(expect_valid(groups(254)).peer_groups.size(), 254u);
  expect_errors(groups(255), {"test.conf:1: peer_groups: 255 groups; at most 254 are allowed"});
}

TEST_F(ConfigTest, CidrListMayHoldEmptyItemsOrBeEmpty) {
  Config c = expect_valid(R"(peer_groups:
  - name: a
    priority: 0
    cidr_list:
      -
      - "10.0.0.0/8"
      - ""
      -
  - name: b
    priority: 1
    cidr_list:
  - name: c
    priority: 1
    cidr_list: []
  - name: d
    priority: 2
    cidr_list: "192.168.0.0/16"
)");
  ASSERT_EQ(c.peer_groups.size(), 4u);
  EXPECT_EQ(c.peer_groups[0].cidrs, std::vector<net::Cidr>{cidr("10.0.0.0/8")});
  EXPECT_TRUE(c.peer_groups[1].cidrs.empty());
  EXPECT_TRUE(c.peer_groups[2].cidrs.empty());
  EXPECT_EQ(c.peer_groups[3].cidrs, std::vector<net::Cidr>{cidr("192.168.0.0/16")});
  EXPECT_TRUE(c.peer_groups[0].cidr_file.empty());
}

TEST_F(ConfigTest, NeighborRules) {
  expect_errors(R"(neighbors:
  - name: "a"
    announce_request: "http://a.example/announce?info_hash={info_hash}"
  - announce_request: "http://b.example/announce?info_hash={info_hash}"
  - name: "c"
  - name: "a"
    announce_request: "http://c.example/announce?info_hash={info_hash}"
  - name: "e"
    announce_request: "https://e.example/announce?info_hash={info_hash}"
  - name: "f"
    announce_request: "http://f.example/announce?info_hash=%00"
)",
                {"test.conf:4: neighbors[1]: missing 'name'",
                 "test.conf:5: neighbors[2]: missing 'announce_request'",
                 "test.conf:6: neighbors[3].name: duplicate neighbor name 'a' (first at line 2)",
                 "test.conf:9: neighbors[4].announce_request: must be an http:// URL, got "
                 "'https://e.example/announce?info_hash={info_hash}'",
                 "test.conf:11: neighbors[5].announce_request: must contain {info_hash}, got "
                 "'http://f.example/announce?info_hash=%00'"});
}

TEST_F(ConfigTest, HashlistGroupsMustExistWhenListed) {
  expect_errors(R"(hashlist:
  groups:
    - "local peers"
    - "nobody"
peer_groups:
  - name: "local peers"
    priority: 0
)",
                {"test.conf:4: hashlist.groups: no peer group is named 'nobody'"});
  // The default ["local peers"] is not checked: a file without groups is valid.
  Config c = expect_valid("hashlist:\n  interval: 60\n");
  EXPECT_EQ(c.hashlist.groups, std::vector<std::string>{"local peers"});
}

TEST_F(ConfigTest, YamlSyntaxErrorReportsItsLine) {
  LoadResult result =
      load("server:\n  threads: 1\n  listen: [\"0.0.0.0:80\"\n  request_timeout: 3\n");
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].file, "test.conf");
  EXPECT_GE(result.errors[0].line, 3);
  EXPECT_EQ(result.errors[0].message.rfind("invalid YAML: ", 0), 0u) << joined(result);
  EXPECT_FALSE(result.config);

  result = load("logging:\n  level: info\n  path: a: b\n");
  EXPECT_EQ(messages(result), std::vector<std::string>{"test.conf:3: invalid YAML: illegal map "
                                                       "value"});
}

TEST_F(ConfigTest, TabsInIndentationAreReportedByLine) {
  expect_errors(
      "server:\n\tthreads: 1\n  listen: [\"0.0.0.0:80\"]\n \t request_timeout: 3\n"
      "\t# comment\n\t\n  keepalive_timeout: 5 # a\ttab after text is fine\n",
      {"test.conf:2: tab character used for indentation (use spaces)",
       "test.conf:4: tab character used for indentation (use spaces)",
       "test.conf:5: tab character used for indentation (use spaces)"});
  // A tab inside a value is not indentation.
  EXPECT_EQ(expect_valid("database:\n  password: \"a\tb\"\n").database.password, "a\tb");
}

TEST_F(ConfigTest, ErrorsAreCollectedInFileOrder) {
  std::string bad_file = write("bad.conf", "10.0.0.0/8\nnope\n");
  std::string text =
      "hashlist:\n  groups: [\"x\"]\n"                // 1-2
      "tracker:\n  numwant_default: 500\n"            // 3-4
      "  peer_expiry: soon\n"                         // 5
      "peer_groups:\n  - name: a\n    priority: 0\n"  // 6-8
      "    cidr_file: \"" +
      bad_file +
      "\"\n"            // 9
      "    prio: 1\n";  // 10
  LoadResult result = load(text);
  EXPECT_EQ(messages(result),
            (std::vector<std::string>{
                "test.conf:2: hashlist.groups: no peer group is named 'x'",
                "test.conf:4: tracker.numwant_default (500) must not exceed tracker.numwant_max "
                "(200)",
                "test.conf:5: tracker.peer_expiry: expected a non-negative integer, got 'soon'",
                bad_file + ":2: 'nope' is not an IP address",
                "test.conf:10: unknown key 'prio' in section 'peer_groups' (did you mean "
                "'priority'?)"}));
}

TEST_F(ConfigTest, HostnamesAreStoredInLowerCase) {
  Config c = expect_valid("server:\n  hostnames: [\"ReTracker.Local\", \"BT.Example.NET\"]\n");
  EXPECT_EQ(c.server.hostnames, (std::vector<std::string>{"retracker.local", "bt.example.net"}));
  expect_errors("server:\n  hostnames: [\"a b\"]\n",
                {"test.conf:2: server.hostnames: 'a b' is not a host name"});
}

// ---------------------------------------------------------------------------------------
// CIDR files

TEST_F(ConfigTest, CidrFileFormat) {
  std::string path = write("cidrs.conf",
                           "# operator networks\n"
                           "\n"
                           "10.0.0.0/8\n"
                           "   192.168.1.0/24   # office\n"
                           "192.0.2.7\n"
                           "2001:db8::/32\r\n"
                           "\t172.16.0.0/12\t\n"
                           "   \n"
                           "::1 # loopback\n"
                           "100.64.0.0/10");  // no final newline
  std::vector<net::Cidr> out{cidr("1.1.1.1")};
  EXPECT_TRUE(load_cidr_file(path, out).empty());
  EXPECT_EQ(
      out, (std::vector<net::Cidr>{cidr("1.1.1.1"), cidr("10.0.0.0/8"), cidr("192.168.1.0/24"),
                                   cidr("192.0.2.7/32"), cidr("2001:db8::/32"),
                                   cidr("172.16.0.0/12"), cidr("::1/128"), cidr("100.64.0.0/10")}));
}

TEST_F(ConfigTest, CidrFileErrorsAreFileAndLine) {
  std::string path = write("cidrs.conf",
                           "10.0.0.0/8\n"
                           "xyz\n"
                           "# fine\n"
                           "10.0.0.0/33 # too long\n"
                           "10.0.0.0/8 10.1.0.0/16\n"
                           "192.168.0.1\n");
  std::vector<net::Cidr> out;
  std::vector<std::string> errors;
  for (const Error& e : load_cidr_file(path, out)) errors.push_back(e.to_string());
  EXPECT_EQ(errors, (std::vector<std::string>{
                        path + ":2: 'xyz' is not an IP address",
                        path + ":4: '10.0.0.0/33': '33' is not a prefix length (0-32)",
                        path + ":5: '10.0.0.0/8 10.1.0.0/16': '8 10.1.0.0/16' is not a prefix "
                               "length (0-32)"}));
  EXPECT_EQ(out.size(), 2u);  // the good lines are kept

  std::vector<net::Cidr> none;
  auto missing = load_cidr_file((dir_ / "absent.conf").string(), none);
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0].line, 0);
  EXPECT_EQ(missing[0].to_string(),
            (dir_ / "absent.conf").string() + ": cannot open: No such file or directory");
}

TEST_F(ConfigTest, GarbageCidrFileIsCutShort) {
  std::string text;
  for (int i = 0; i < 150; ++i) text += "garbage\x01line\n";
  std::string path = write("binary.conf", text);
  std::vector<net::Cidr> out;
  auto errors = load_cidr_file(path, out);
  ASSERT_EQ(errors.size(), 101u);
  EXPECT_EQ(errors[0].to_string(), path + ":1: 'garbage?line' is not an IP address");
  EXPECT_EQ(errors.back().to_string(), path + ": 50 more bad lines not shown");
}

TEST_F(ConfigTest, CidrFileOfAGroup) {
  write("lan.conf", "10.0.0.0/8\n");
  write("bad.conf", "\n\nnot-an-address\n");
  std::string config = write("btrt.conf",
                             "peer_groups:\n"
                             "  - name: a\n"
                             "    priority: 0\n"
                             "    cidr_file: lan.conf\n"  // relative to btrt.conf's directory
                             "    cidr_list: [\"192.168.0.0/16\"]\n"
                             "  - name: b\n"
                             "    priority: 1\n"
                             "    cidr_file: \"" +
                                 (dir_ / "missing.conf").string() +
                                 "\"\n"
                                 "  - name: c\n"
                                 "    priority: 2\n"
                                 "    cidr_file: bad.conf\n");
  LoadResult result = load_file(config);
  EXPECT_EQ(messages(result),
            (std::vector<std::string>{
                config + ":8: cidr_file '" + (dir_ / "missing.conf").string() +
                    "': cannot open: No such file or directory",
                (dir_ / "bad.conf").string() + ":3: 'not-an-address' is not an IP address"}));

  // Without the faulty groups: cidr_list comes first, then the file's prefixes.
  config = write("good.conf",
                 "peer_groups:\n  - name: a\n    priority: 0\n    cidr_file: lan.conf\n"
                 "    cidr_list: [\"192.168.0.0/16\"]\n");
  result = load_file(config);
  ASSERT_TRUE(result.errors.empty()) << joined(result);
  EXPECT_EQ(result.config->peer_groups[0].cidr_file, (dir_ / "lan.conf").string());
  EXPECT_EQ(result.config->peer_groups[0].cidrs,
            (std::vector<net::Cidr>{cidr("192.168.0.0/16"), cidr("10.0.0.0/8")}));
}

TEST_F(ConfigTest, CidrFileThatIsADirectory) {
  fs::create_directories(dir_ / "sub");
  std::vector<net::Cidr> out;
  auto errors = load_cidr_file((dir_ / "sub").string(), out);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message, "cannot open: Is a directory");
}

// The load time is printed, not asserted (the target, docs/performance.md, is measured by
// bench_prefix_table).
TEST_F(ConfigTest, LoadingOneMillionPrefixes) {
  std::string text;
  text.reserve(20 * 1000000);
  for (std::uint32_t i = 0; i < 1000000; ++i) {
    std::uint32_t a = 0x0a000000u + (i << 4);  // 10.x.y.z/28
    text += std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." +
            std::to_string((a >> 8) & 255) + "." + std::to_string(a & 255) + "/28\n";
  }
  std::string path = write("million.conf", text);
  std::vector<net::Cidr> out;
  auto start = std::chrono::steady_clock::now();
  auto errors = load_cidr_file(path, out);
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(errors.empty());
  ASSERT_EQ(out.size(), 1000000u);
  EXPECT_EQ(out.back(), cidr("10.244.35.240/28"));
  double seconds = std::chrono::duration<double>(elapsed).count();
  std::printf("load_cidr_file: 1,000,000 prefixes in %.3f s\n", seconds);
}

// ---------------------------------------------------------------------------------------
// Files as a whole

TEST_F(ConfigTest, ErrorFormats) {
  EXPECT_EQ((Error{"a.conf", 12, "bad"}).to_string(), "a.conf:12: bad");
  EXPECT_EQ((Error{"a.conf", 0, "bad"}).to_string(), "a.conf: bad");
}

TEST_F(ConfigTest, UnreadableConfigFile) {
  std::string path = (dir_ / "nope.conf").string();
  LoadResult result = load_file(path);
  EXPECT_FALSE(result.config);
  EXPECT_EQ(messages(result),
            std::vector<std::string>{path + ": cannot open: No such file or directory"});
}

TEST_F(ConfigTest, KeepDaysIsReadWithinItsRange) {
  LoadResult ok = load("logging:\n  keep_days: 0\n");
  ASSERT_TRUE(ok.errors.empty()) << joined(ok);
  EXPECT_EQ(ok.config->logging.keep_days, 0u);
  EXPECT_EQ(load("").config->logging.keep_days, 30u);
  EXPECT_EQ(messages(load("logging:\n  keep_days: 100001\n")),
            std::vector<std::string>{
                "test.conf:2: logging.keep_days: must be at most 100000, got '100001'"});
  EXPECT_EQ(messages(load("logging:\n  keep_dayz: 3\n")),
            std::vector<std::string>{"test.conf:2: unknown key 'keep_dayz' in section 'logging' "
                                     "(did you mean 'keep_days'?)"});
}

const KeyReference* find_key(const std::vector<KeyReference>& keys, std::string_view path) {
  for (const KeyReference& key : keys) {
    if (key.path == path) return &key;
  }
  return nullptr;
}

TEST(KeyReference, DescribesEveryKeyOnceWithTheStructsDefaults) {
  std::vector<KeyReference> keys = key_reference();
  std::vector<std::string> paths;
  for (const KeyReference& key : keys) {
    paths.push_back(key.path);
    EXPECT_FALSE(key.type.empty()) << key.path;
    EXPECT_FALSE(key.doc.empty()) << key.path;
    EXPECT_TRUE(key.reload == "SIGHUP" || key.reload == "restart") << key.path;
  }
  std::sort(paths.begin(), paths.end());
  EXPECT_EQ(std::adjacent_find(paths.begin(), paths.end()), paths.end());

  auto expect = [&](std::string_view path, std::string_view type, std::string_view default_value,
                    std::string_view reload) {
    const KeyReference* key = find_key(keys, path);
    ASSERT_NE(key, nullptr) << path;
    EXPECT_EQ(key->type, type) << path;
    EXPECT_EQ(key->default_value, default_value) << path;
    EXPECT_EQ(key->reload, reload) << path;
  };
  expect("server.listen",
         "list of `\"a.b.c.d:port\"` / `\"[v6]:port\"`, at least one, no duplicates",
         "`[\"0.0.0.0:80\"]`", "restart");
  expect("server.threads", "integer 0–1024", "`0`", "restart");
  expect("server.max_connections", "integer ≥ 1", "`100000`", "restart");
  expect("tracker.min_interval", "duration ≥ 1, ≤ `announce_interval`", "`900`", "SIGHUP");
  expect("tracker.full_scrape", "boolean", "`false`", "SIGHUP");
  expect("logging.level", "`critical`, `error`, `warning`, `info`, `diagnostic`, `debug`",
         "`\"info\"`", "SIGHUP");
  expect("logging.switch_time", "`\"HH:MM:SS\"`", "`\"01:00:00\"`", "restart");
  expect("logging.keep_days", "integer 0–100000", "`30`", "restart");
  expect("database.password", "string", "`\"\"`", "restart");
  expect("peer_groups[].name", "string, required, unique, not `other`", "—", "SIGHUP");
  expect("peer_groups[].priority", "integer ≥ 0, required", "—", "SIGHUP");
  expect("forwarding.mode", "`when_needed` or `always`", "`\"when_needed\"`", "SIGHUP");
  expect("forwarding.dns_servers", "list of `a.b.c.d`, `a.b.c.d:port`, `[v6]:port`", "`[]`",
         "restart");
  expect("hashlist.groups", "list of peer group names", "`[\"local peers\"]`", "SIGHUP");
}

TEST(KeyReference, EveryKeyItDescribesIsAccepted) {
  // Each key alone, in its section (list items in an item of their own): never "unknown".
  for (const KeyReference& key : key_reference()) {
    std::string text;
    if (auto item = key.path.find("[]."); item != std::string::npos) {
      text = key.path.substr(0, item) + ":\n  - " + key.path.substr(item + 3) + ": x\n";
    } else {
      auto dot = key.path.find('.');
      text = key.path.substr(0, dot) + ":\n  " + key.path.substr(dot + 1) + ": x\n";
    }
    for (const std::string& message : messages(load_string(text, "test.conf"))) {
      EXPECT_EQ(message.find("unknown"), std::string::npos) << message;
    }
  }
}

}  // namespace
}  // namespace btrt::config
