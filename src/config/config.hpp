#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.hpp"
#include "net/cidr.hpp"
#include "net/ip_address.hpp"

namespace btrt::config {

// Plain data: the whole configuration, with its defaults (each key is described in
// docs/operations.md, "Configuration reference"). Durations are whole seconds. Loaded and validated
// by load_file()/load_string(); nothing else mutates it.

struct Server {
  std::vector<net::Endpoint> listen{*net::Endpoint::parse("0.0.0.0:80")};
  std::vector<net::Endpoint> udp_listen;  // BEP 15; empty: no UDP tracker
  unsigned threads = 0;                   // 0 = number of CPU cores (resolved by the caller)
  std::vector<std::string> hostnames{"retracker.local", "localhost"};  // lower case
  std::vector<net::Cidr> trusted_sources{*net::Cidr::parse("127.0.0.0/8")};
  std::uint32_t max_connections = 100000;
  core::Duration request_timeout{10};
  core::Duration keepalive_timeout{15};
  std::vector<net::Cidr> admin_allow{*net::Cidr::parse("127.0.0.0/8")};
};

struct Tracker {
  core::Duration announce_interval{1800};
  core::Duration min_interval{900};
  core::Duration peer_expiry{3960};
  std::uint32_t numwant_default = 50;
  std::uint32_t numwant_max = 200;
  std::uint32_t locality_cutoff = 10;
  std::uint32_t locality_seeders = 0;
  std::uint32_t max_scrape_hashes = 256;
  bool full_scrape = false;
  std::uint64_t max_torrents = 0;           // 0 = no limit
  std::uint32_t max_peers_per_torrent = 0;  // 0 = no limit
};

enum class LogLevel { critical, error, warning, info, diagnostic, debug };
std::string_view to_string(LogLevel level);
std::optional<LogLevel> parse_log_level(std::string_view text);

struct Logging {
  std::string path = "/var/log/btrt";
  LogLevel level = LogLevel::info;
  std::uint32_t switch_time = 3600;  // seconds after local midnight ("01:00:00")
  std::uint32_t keep_days = 30;      // 0 = keep every dated log file
};

struct Database {
  enum class Kind { sqlite, mysql_tcp, mysql_unix };
  std::string url = "sqlite:///var/lib/btrt/btrt.db";
  Kind kind = Kind::sqlite;
  std::string location = "/var/lib/btrt/btrt.db";  // file path, "host:port" or socket path
  std::string user = "btrt";
  std::string password;
  std::string schema = "btrt";
  core::Duration flush_interval{10};
  std::uint64_t max_pending = 1000000;
};

struct PeerGroup {
  std::string name;
  std::uint32_t priority = 0;
  std::string cidr_file;         // empty when not given
  std::vector<net::Cidr> cidrs;  // cidr_list followed by the cidr_file's prefixes
};

struct Neighbor {
  std::string name;
  core::Duration refresh_interval{1800};
  core::Duration peers_expiry_interval{7200};
  std::string announce_request;  // http:// URL containing {info_hash}
  core::Duration timeout{10};
  std::uint32_t max_concurrent = 32;
};

struct Forwarding {
  enum class Mode { when_needed, always };
  bool enabled = true;
  Mode mode = Mode::when_needed;
  core::Duration timeout{5};
  std::uint32_t max_concurrent = 512;
  bool pass_client_ip = false;
  std::vector<net::Cidr> allowed_destinations;
  // DNS servers asked for origins' names; empty: those of /etc/resolv.conf. At restart.
  std::vector<net::Endpoint> dns_servers;
};

// Transparent interception: the router diverts subscribers' tracker traffic to btrt.
struct Interception {
  std::vector<net::Endpoint> tcp_listen;  // IP_TRANSPARENT; empty: no interception of HTTP
  std::vector<net::Endpoint> udp_listen;  // IP_TRANSPARENT; empty: no interception of UDP
  bool spoof_source = false;  // intercepted announces asked from the subscriber's address
  std::uint32_t mark = 0;     // SO_MARK on upstream sockets; 0 = none
};

struct Hashlist {
  std::string path = "/var/lib/btrt/hashlist.bin";
  core::Duration interval{600};  // 0 = only on demand
  std::vector<std::string> groups{"local peers"};
  std::uint32_t min_seeders = 1;
};

struct Config {
  std::string file;  // where it was loaded from
  Server server;
  Tracker tracker;
  Logging logging;
  Database database;
  std::vector<PeerGroup> peer_groups;
  std::vector<Neighbor> neighbors;
  Forwarding forwarding;
  Interception interception;
  Hashlist hashlist;
};

struct Error {
  std::string file;
  int line = 0;  // 1-based; 0 when the error concerns the file as a whole
  std::string message;
  std::string to_string() const;  // "FILE:LINE: message" (or "FILE: message")
};

struct LoadResult {
  std::optional<Config> config;  // set only when errors is empty
  std::vector<Error> errors;     // every error found, in file order
};

// Reads, parses and validates a configuration file, including the CIDR files it names
// (relative paths are taken relative to the configuration file's directory).
LoadResult load_file(const std::string& path);
// The same for text already in memory; `name` stands for the file in error messages.
LoadResult load_string(std::string_view text, const std::string& name);

// Errors of a CIDR file, as FILE:LINE; appends its prefixes to `out`.
std::vector<Error> load_cidr_file(const std::string& path, std::vector<net::Cidr>& out);
// The same for a CIDR file's text already in memory; `name` stands for the file.
std::vector<Error> parse_cidr_list(std::string_view text, const std::string& name,
                                   std::vector<net::Cidr>& out);

// One key as the configuration reference documents it (docs/operations.md, btrt.conf(5)),
// taken from the loader's key tables; text in Markdown. Every key the loader accepts, in
// the reference's order.
struct KeyReference {
  std::string path;           // "server.listen"; list items as "peer_groups[].name"
  std::string type;           // "integer ≥ 1", "CIDR list", ...
  std::string default_value;  // "`100000`"; "—" for a required key
  std::string reload;         // "SIGHUP" or "restart"
  std::string doc;
};
std::vector<KeyReference> key_reference();

}  // namespace btrt::config
