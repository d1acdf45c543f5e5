#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/ids.hpp"
#include "core/peer.hpp"
#include "core/time.hpp"
#include "net/ip_address.hpp"

namespace btrt::storage {

// The schema version this build needs; sql/*/ hold the creation scripts and upgrades.
inline constexpr int kSchemaVersion = 3;

class DatabaseError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The database answers but its schema is missing, older or newer than this build's: an
// operator's step is needed (`btrt db init|upgrade`); retrying cannot mend it.
class SchemaError : public DatabaseError {
 public:
  using DatabaseError::DatabaseError;
};

// The rows mirror the tables: times are unix seconds as stored (a restart starts a new
// monotonic clock, so the store's times are translated to the wall clock's).
inline std::int64_t stored_seconds(core::UnixSeconds t) {
  return t.time_since_epoch().count();
}

// A stored peer: what the store's change says.
struct PeerRow : core::PeerKey {
  core::PeerId peer_id;
  bool seeder = false;
  std::uint8_t source = 0;
  std::int64_t last_seen = 0;
  std::int64_t expires_at = 0;
};

struct TorrentRow {
  core::InfoHash info_hash;
  std::uint64_t completed_delta = 0;  // added to the stored count
  std::int64_t seen = 0;
  std::string origin_url;  // a forwarded announce's origin; empty: keep the stored one
};

struct StatsRow {
  std::int64_t sampled_at = 0;
  std::uint64_t announces = 0;
  std::uint64_t scrapes = 0;
  std::uint64_t forwarded = 0;
  std::vector<std::pair<std::string, std::uint64_t>> returned_by_group;
};

// Everything one flush writes, in one transaction.
struct Batch {
  std::vector<TorrentRow> torrents;
  std::vector<PeerRow> peers;
  std::vector<core::PeerKey> removed;
  std::vector<StatsRow> stats;
  core::UnixSeconds now;
  // Delete the peers that expired before `now`: a scan of the peers table (schema 3 has no
  // index on expires_at), so the write-behind asks for it every few minutes, not every flush.
  bool purge_expired = true;
};

// One storage interface over SQLite and MySQL/MariaDB (SOCI). Every method throws
// DatabaseError with a message that names the database when something goes wrong.
class Database {
 public:
  virtual ~Database() = default;

  // Opens the database of the configuration. An SQLite file (and its directory) is created
  // when missing; a MySQL server must be reachable.
  static std::unique_ptr<Database> connect(const config::Database& config);

  // 0 when the database holds no btrt schema.
  virtual int schema_version() = 0;
  // Creates the schema when missing; harmless on a current one.
  virtual void init() = 0;
  // Applies the upgrades from schema_version() to kSchemaVersion.
  virtual void upgrade() = 0;

  virtual void write(const Batch& batch) = 0;

  // Calls f for every peer that expires after `now`, in batches (restore at start).
  virtual void load_peers(core::UnixSeconds now, const std::function<void(const PeerRow&)>& f) = 0;
  // Calls f for every torrent with completions.
  virtual void load_completed(
      const std::function<void(const core::InfoHash&, std::uint64_t)>& f) = 0;
  // The statistics rows sampled at or after `since`, oldest first.
  virtual std::vector<StatsRow> load_stats_since(core::UnixSeconds since) = 0;

  virtual std::string describe() const = 0;  // e.g. "SQLite /var/lib/btrt/btrt.db"
};

// Checks that the database holds the schema this build needs before `btrt run` uses it.
// An empty SQLite database gets the schema (the embedded default needs no set-up step);
// anything else that is not current throws SchemaError saying what to run.
void prepare_for_run(Database& database, bool create_if_empty);

// `btrt db init`: creates the schema in an empty database; harmless on a current one.
// Returns a line for the operator; throws DatabaseError on an older or newer schema.
std::string init_schema(Database& database);
// `btrt db upgrade`: applies pending upgrades. Returns a line for the operator.
std::string upgrade_schema(Database& database);

}  // namespace btrt::storage
