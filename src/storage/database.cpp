#include "storage/database.hpp"

#include <soci/soci.h>
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <type_traits>

#include "storage/schema_sql.hpp"
#include "text/strings.hpp"
#include "text/url.hpp"

namespace btrt::storage {
namespace {

constexpr std::size_t kRowsPerStatement = 200;  // multi-row VALUES per statement
constexpr std::size_t kRowsPerFetch = 10000;

// The key rows are ordered by, so that concurrent writers take row locks in one order.
auto peer_key(const core::PeerKey& key) {
  return std::tie(key.info_hash, key.address, key.port);
}

// Two words that order rows as their key does up to ties (which fall back to the key): the
// info-hash's first word, and for a peer its address's last eight bytes and port (an IPv4
// peer's whole address and port), since a torrent's peers share the first word.
std::uint64_t tie_word(const std::tuple<const core::InfoHash&>&) {
  return 0;
}
std::uint64_t tie_word(
    const std::tuple<const core::InfoHash&, const net::IpAddress&, const std::uint16_t&>& key) {
  std::uint64_t tail = 0;
  for (std::size_t i = 8; i < 16; ++i) tail = tail << 8 | std::get<1>(key).bytes()[i];
  return tail << 16 | std::get<2>(key);
}

std::string quoted(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

template <typename Id>
Id from_hex(const std::string& hex) {
  Id id;
  if (hex.size() != 40) throw DatabaseError("stored id '" + hex + "' is not 40 hex digits");
  for (std::size_t i = 0; i < 20; ++i) {
    const int hi = text::hex_value(hex[2 * i]);
    const int lo = text::hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) throw DatabaseError("stored id '" + hex + "' is not hex");
    id.bytes[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return id;
}

// Splits a script into statements: ';' at the end of a line ends one; `--` comments go.
std::vector<std::string> statements_of(std::string_view script) {
  std::vector<std::string> out;
  std::string current;
  while (!script.empty()) {
    auto end = script.find('\n');
    std::string_view line = script.substr(0, end);
    script = end == std::string_view::npos ? std::string_view{} : script.substr(end + 1);
    if (auto comment = line.find("--"); comment != std::string_view::npos) {
      line = line.substr(0, comment);
    }
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.remove_suffix(1);
    if (line.empty()) continue;
    current += line;
    current += '\n';
    if (line.back() == ';') {
      current.pop_back();
      current.pop_back();
      out.push_back(std::move(current));
      current.clear();
    }
  }
  return out;
}

// A connection is used by one thread at a time (the write-behind's, or a command's), so
// SQLite need not lock it in every call (each bind and step of every row written), nor count
// every allocation under one more lock: 6 % of a flush's instructions. Said once, before
// SQLite first initializes; had something initialized it already, it would keep its defaults
// (slower, as correct).
void configure_sqlite() {
  static std::once_flag once;
  std::call_once(once, [] {
    sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  });
}

class SociDatabase final : public Database {
 public:
  explicit SociDatabase(const config::Database& config) {
    try {
      if (config.kind == config::Database::Kind::sqlite) {
        mysql_ = false;
        describe_ = "SQLite " + config.location;
        auto parent = std::filesystem::path(config.location).parent_path();
        std::error_code ec;
        if (!parent.empty()) std::filesystem::create_directories(parent, ec);
        configure_sqlite();
        // A connect string without '=' is taken whole as the file name (spaces included).
        sql_.open("sqlite3", config.location);
        // A flush rewrites rows all over the peers table. In 64 KiB pages (SQLite's largest)
        // that is a sixteenth of the page reads, writes and look-ups of 4 KiB pages, for the
        // same bytes: 1.7 times the rows per second (bench_persistence). Only a new file
        // takes it (before the switch to WAL below); an existing one keeps its page size.
        sql_ << "PRAGMA page_size=65536";
        sql_ << "PRAGMA busy_timeout=10000";
        sql_ << "PRAGMA journal_mode=WAL";
        sql_ << "PRAGMA synchronous=NORMAL";
        // 4 MiB: enough for the B-tree interior pages the random-order peer writes walk; a
        // larger cache costs memory per peer (docs/performance.md, "Targets") for little write
        // speed (bench_persistence).
        sql_ << "PRAGMA cache_size=-4096";
      } else {
        mysql_ = true;
        std::string where;
        if (config.kind == config::Database::Kind::mysql_unix) {
          where = "unix_socket=" + quoted(config.location);
          describe_ = "MySQL " + config.location;
        } else {
          // "[::1]:3306": the brackets are URL syntax; the MySQL client wants the bare address.
          const auto hp = text::split_host_port(config.location);
          where = "host=" + quoted(std::string(hp ? hp->host : config.location)) +
                  " port=" + std::string(hp && hp->port ? *hp->port : "3306");
          describe_ = "MySQL " + config.location;
        }
        describe_ += " schema " + config.schema;
        sql_.open("mysql", where + " user=" + quoted(config.user) + " password=" +
                               quoted(config.password) + " db=" + quoted(config.schema) +
                               " connect_timeout=5 read_timeout=30 write_timeout=30");
      }
    } catch (const std::exception& e) {
      throw DatabaseError(describe_ + ": " + e.what());
    }
  }

  std::string describe() const override { return describe_; }

  int schema_version() override {
    return guarded([&] {
      try {
        soci::indicator ind = soci::i_null;
        int version = 0;
        sql_ << "SELECT MAX(version) FROM schema_version", soci::into(version, ind);
        return ind == soci::i_ok ? version : 0;
      } catch (const soci::soci_error&) {
        if (!table_exists("schema_version")) return 0;
        throw;
      }
    });
  }

  void init() override {
    guarded([&] {
      run_script(mysql_ ? sql::kMysqlCreation : sql::kSqliteCreation);
      return 0;
    });
  }

  void upgrade() override {
    guarded([&] {
      int version = schema_version();
      if (version == 0) {
        run_script(mysql_ ? sql::kMysqlCreation : sql::kSqliteCreation);
        return 0;
      }
      for (const auto& step : mysql_ ? sql::kMysqlUpgrades : sql::kSqliteUpgrades) {
        if (step.version > version) run_script(step.script);
      }
      return 0;
    });
  }

  void write(const Batch& batch) override {
    guarded([&] {
      soci::transaction transaction(sql_);
      write_torrents(batch.torrents);
      write_peers(batch.peers);
      write_removals(batch.removed);
      if (batch.purge_expired) {
        long long now = stored_seconds(batch.now);
        sql_ << "DELETE FROM peers WHERE expires_at < :now", soci::use(now);
      }
      write_stats(batch.stats);
      transaction.commit();
      // Flushes come seconds apart and touch pages all over the tables: the page cache
      // saves little between them, and kept full it is megabytes held for the life of the
      // process. Handed back here, the write-behind's trim returns it to the system.
      if (!mysql_) sql_ << "PRAGMA shrink_memory";
      return 0;
    });
  }

  void load_peers(core::UnixSeconds now, const std::function<void(const PeerRow&)>& f) override {
    guarded([&] {
      std::vector<std::string> hashes(kRowsPerFetch), addresses(kRowsPerFetch), ids(kRowsPerFetch);
      std::vector<int> ports(kRowsPerFetch), seeders(kRowsPerFetch), sources(kRowsPerFetch);
      std::vector<long long> seen(kRowsPerFetch), expires(kRowsPerFetch);
      long long after = stored_seconds(now);
      soci::statement st =
          (sql_.prepare << "SELECT info_hash, address, port, peer_id, seeder, source, "
                           "last_seen, expires_at FROM peers WHERE expires_at > :now",
           soci::into(hashes), soci::into(addresses), soci::into(ports), soci::into(ids),
           soci::into(seeders), soci::into(sources), soci::into(seen), soci::into(expires),
           soci::use(after));
      st.execute();
      while (st.fetch()) {
        for (std::size_t i = 0; i < hashes.size(); ++i) {
          PeerRow row;
          row.info_hash = from_hex<core::InfoHash>(hashes[i]);
          auto address = net::IpAddress::parse(addresses[i]);
          if (!address) throw DatabaseError("stored address '" + addresses[i] + "' is invalid");
          row.address = *address;
          row.port = static_cast<std::uint16_t>(ports[i]);
          row.peer_id = from_hex<core::PeerId>(ids[i]);
          row.seeder = seeders[i] != 0;
          row.source = static_cast<std::uint8_t>(sources[i]);
          row.last_seen = seen[i];
          row.expires_at = expires[i];
          f(row);
        }
        for (auto* v : {&hashes, &addresses, &ids}) v->resize(kRowsPerFetch);
        for (auto* v : {&ports, &seeders, &sources}) v->resize(kRowsPerFetch);
        for (auto* v : {&seen, &expires}) v->resize(kRowsPerFetch);
      }
      return 0;
    });
  }

  void load_completed(const std::function<void(const core::InfoHash&, std::uint64_t)>& f) override {
    guarded([&] {
      std::vector<std::string> hashes(kRowsPerFetch);
      std::vector<long long> completed(kRowsPerFetch);
      soci::statement st =
          (sql_.prepare << "SELECT info_hash, completed FROM torrents WHERE completed > 0",
           soci::into(hashes), soci::into(completed));
      st.execute();
      while (st.fetch()) {
        for (std::size_t i = 0; i < hashes.size(); ++i) {
          f(from_hex<core::InfoHash>(hashes[i]), static_cast<std::uint64_t>(completed[i]));
        }
        hashes.resize(kRowsPerFetch);
        completed.resize(kRowsPerFetch);
      }
      return 0;
    });
  }

  std::vector<StatsRow> load_stats_since(core::UnixSeconds since) override {
    return guarded([&] {
      // Two queries, not one per row: a day holds 1,440 samples.
      long long from = stored_seconds(since);
      std::vector<StatsRow> rows;
      std::map<std::int64_t, std::size_t> index;
      soci::rowset<soci::row> result =
          (sql_.prepare << "SELECT sampled_at, announces, scrapes, forwarded FROM stats "
                           "WHERE sampled_at >= :since ORDER BY sampled_at",
           soci::use(from));
      for (const auto& r : result) {
        StatsRow row = stats_row_of(r);
        index.emplace(row.sampled_at, rows.size());
        rows.push_back(std::move(row));
      }
      soci::rowset<soci::row> returned =
          (sql_.prepare << "SELECT sampled_at, peer_group, peers FROM stats_returned "
                           "WHERE sampled_at >= :since ORDER BY sampled_at, peer_group",
           soci::use(from));
      for (const auto& r : returned) {
        auto it = index.find(as_int(r, 0));
        if (it == index.end()) continue;  // written apart from its stats row: not a sample
        rows[it->second].returned_by_group.emplace_back(r.get<std::string>(1),
                                                        static_cast<std::uint64_t>(as_int(r, 2)));
      }
      return rows;
    });
  }

 private:
  template <typename F>
  std::invoke_result_t<F&> guarded(F&& f) {
    try {
      return f();
    } catch (const DatabaseError&) {
      throw;
    } catch (const std::exception& e) {
      throw DatabaseError(describe_ + ": " + e.what());
    }
  }

  // A row of SELECT sampled_at, announces, scrapes, forwarded FROM stats.
  static StatsRow stats_row_of(const soci::row& r) {
    StatsRow row;
    row.sampled_at = as_int(r, 0);
    row.announces = static_cast<std::uint64_t>(as_int(r, 1));
    row.scrapes = static_cast<std::uint64_t>(as_int(r, 2));
    row.forwarded = static_cast<std::uint64_t>(as_int(r, 3));
    return row;
  }

  static long long as_int(const soci::row& r, std::size_t i) {
    switch (r.get_properties(i).get_data_type()) {
      case soci::dt_integer:
        return r.get<int>(i);
      case soci::dt_long_long:
        return r.get<long long>(i);
      case soci::dt_unsigned_long_long:
        return static_cast<long long>(r.get<unsigned long long>(i));
      case soci::dt_double:
        return static_cast<long long>(r.get<double>(i));
      default:
        return std::stoll(r.get<std::string>(i));
    }
  }

  bool table_exists(const std::string& name) {
    int count = 0;
    if (mysql_) {
      sql_ << "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() "
              "AND table_name = :name",
          soci::use(name), soci::into(count);
    } else {
      sql_ << "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = :name",
          soci::use(name), soci::into(count);
    }
    return count > 0;
  }

  void run_script(std::string_view script) {
    for (const auto& statement : statements_of(script)) sql_ << statement;
  }

  // One value of a multi-row statement. The cells are bound once to a prepared statement and
  // refilled for each chunk: parsing a 200-row statement anew per chunk cost more than
  // executing it (most of a flush's CPU, callgrind).
  struct Cell {
    std::string text;
    long long number = 0;
    soci::indicator set = soci::i_ok;
    bool is_text = false;

    void put(std::string value) {
      text = std::move(value);
      set = soci::i_ok;
      is_text = true;
    }
    // An id as hex, written into the text the cell already holds (no allocation per row).
    template <typename Tag>
    void put(const core::Id20<Tag>& id) {
      text.resize(core::Id20<Tag>::kHexSize);
      id.write_hex(text.data());
      set = soci::i_ok;
      is_text = true;
    }
    void put_nullable(std::string value) {
      put(std::move(value));
      if (text.empty()) set = soci::i_null;
    }
    void put(long long value) {
      number = value;
      set = soci::i_ok;
      is_text = false;
    }
  };

  // Executes `head` + "(?,...),(?,...)" + `tail` for every row of `rows` in chunks, in the
  // order of `key` (the table's primary key); fill(row, cells) puts the values of a row, in
  // column order, into `columns` cells. Every column keeps one type across rows.
  //
  // In key order a flush changes each page of a table once. In the order the rows come (a
  // hash map's) it changed pages at random, and once more pages were dirty than the page
  // cache holds SQLite wrote the same pages to its journal over and over: three page writes
  // per row at 200,000 rows, most of a flush's time.
  template <typename Row, typename Key, typename Fill>
  void multi_row(const std::vector<Row>& rows, Key&& key, std::size_t columns,
                 const std::string& head, const std::string& tail, Fill&& fill) {
    // The sort moves (two words of the key, row) entries: comparisons end on the words in the
    // entries themselves, without reaching into the rows, unless they tie. The result is one
    // fixed order with a torrent's rows together, which is what locality and lock order need.
    struct Entry {
      std::uint64_t word;
      std::uint64_t tie;
      const Row* row;
    };
    std::vector<Entry> entries;
    entries.reserve(rows.size());
    for (const auto& row : rows) {
      const auto k = key(row);
      entries.push_back({std::get<0>(k).leading_word(), tie_word(k), &row});
    }
    std::sort(entries.begin(), entries.end(), [&](const Entry& a, const Entry& b) {
      if (a.word != b.word) return a.word < b.word;
      if (a.tie != b.tie) return a.tie < b.tie;
      return key(*a.row) < key(*b.row);
    });
    std::vector<Cell> cells(std::min(kRowsPerStatement, entries.size()) * columns);
    auto prepare = [&](std::size_t chunk) {
      std::string text = head;
      for (std::size_t r = 0; r < chunk; ++r) {
        text += r == 0 ? "(" : ",(";
        for (std::size_t c = 0; c < columns; ++c) {
          // SQLite looks named parameters up in a list (quadratic over a long statement), so
          // it gets anonymous ones; SOCI's MySQL backend substitutes named ones itself.
          if (c != 0) text += ',';
          if (mysql_) {
            text += ":v";
            text += std::to_string(r * columns + c);
          } else {
            text += '?';
          }
        }
        text += ')';
      }
      text += tail;
      auto st = std::make_unique<soci::statement>(sql_);
      st->alloc();
      st->prepare(text);
      for (std::size_t i = 0; i < chunk * columns; ++i) {
        Cell& cell = cells[i];
        if (cell.is_text) {
          st->exchange(soci::use(cell.text, cell.set));
        } else {
          st->exchange(soci::use(cell.number, cell.set));
        }
      }
      st->define_and_bind();
      return st;
    };
    std::unique_ptr<soci::statement> full;  // prepared once, for every whole chunk
    const std::size_t count = entries.size();
    for (std::size_t first = 0; first < count; first += kRowsPerStatement) {
      const std::size_t chunk = std::min(kRowsPerStatement, count - first);
      for (std::size_t r = 0; r < chunk; ++r) fill(*entries[first + r].row, &cells[r * columns]);
      if (chunk == kRowsPerStatement) {
        if (!full) full = prepare(chunk);
        full->execute(true);
      } else {
        prepare(chunk)->execute(true);
      }
    }
  }

  void write_torrents(const std::vector<TorrentRow>& rows) {
    if (rows.empty()) return;
    multi_row(
        rows, [](const TorrentRow& r) { return std::tie(r.info_hash); }, 5,
        "INSERT INTO torrents (info_hash, first_seen, last_seen, completed, origin_url) VALUES ",
        mysql_ ? " ON DUPLICATE KEY UPDATE last_seen = VALUES(last_seen), "
                 "completed = completed + VALUES(completed), "
                 "origin_url = COALESCE(VALUES(origin_url), origin_url)"
               : " ON CONFLICT(info_hash) DO UPDATE SET last_seen = excluded.last_seen, "
                 "completed = torrents.completed + excluded.completed, "
                 "origin_url = COALESCE(excluded.origin_url, torrents.origin_url)",
        [&](const TorrentRow& row, Cell* cells) {
          cells[0].put(row.info_hash);
          cells[1].put(static_cast<long long>(row.seen));
          cells[2].put(static_cast<long long>(row.seen));
          cells[3].put(static_cast<long long>(row.completed_delta));
          cells[4].put_nullable(storable_origin(row.origin_url));
        });
  }

  // The URL came from a subscriber's request: only printable ASCII goes into the column
  // (MySQL refuses invalid UTF-8 in a text column, and one refused row would fail every
  // flush), the rest percent-encoded, cut at the column's 2,048 characters.
  static std::string storable_origin(std::string_view url) {
    constexpr std::size_t kMax = 2048;
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : url) {
      if (c > 0x20 && c < 0x7f) {
        if (out.size() + 1 > kMax) break;
        out += static_cast<char>(c);
      } else {
        if (out.size() + 3 > kMax) break;
        out += '%';
        out += kHex[c >> 4];
        out += kHex[c & 15];
      }
    }
    return out;
  }

  void write_peers(const std::vector<PeerRow>& rows) {
    if (rows.empty()) return;
    multi_row(
        rows, peer_key, 8,
        "INSERT INTO peers (info_hash, address, port, peer_id, seeder, source, last_seen, "
        "expires_at) VALUES ",
        mysql_ ? " ON DUPLICATE KEY UPDATE peer_id = VALUES(peer_id), seeder = VALUES(seeder), "
                 "source = VALUES(source), last_seen = VALUES(last_seen), "
                 "expires_at = VALUES(expires_at)"
               : " ON CONFLICT(info_hash, address, port) DO UPDATE SET peer_id = excluded.peer_id, "
                 "seeder = excluded.seeder, source = excluded.source, "
                 "last_seen = excluded.last_seen, expires_at = excluded.expires_at",
        [&](const PeerRow& p, Cell* cells) {
          cells[0].put(p.info_hash);
          cells[1].put(p.address.to_string());
          cells[2].put(static_cast<long long>(p.port));
          cells[3].put(p.peer_id);
          cells[4].put(static_cast<long long>(p.seeder ? 1 : 0));
          cells[5].put(static_cast<long long>(p.source));
          cells[6].put(static_cast<long long>(p.last_seen));
          cells[7].put(static_cast<long long>(p.expires_at));
        });
  }

  void write_removals(const std::vector<core::PeerKey>& rows) {
    if (rows.empty()) return;
    // Row-value lists: MySQL takes IN ((..),(..)), SQLite only IN (VALUES (..),(..)).
    multi_row(rows, peer_key, 3,
              mysql_ ? "DELETE FROM peers WHERE (info_hash, address, port) IN ("
                     : "DELETE FROM peers WHERE (info_hash, address, port) IN (VALUES ",
              ")", [&](const core::PeerKey& row, Cell* cells) {
                cells[0].put(row.info_hash);
                cells[1].put(row.address.to_string());
                cells[2].put(static_cast<long long>(row.port));
              });
  }

  void write_stats(const std::vector<StatsRow>& rows) {
    for (const auto& row : rows) {
      long long at = row.sampled_at;
      long long announces = static_cast<long long>(row.announces);
      long long scrapes = static_cast<long long>(row.scrapes);
      long long forwarded = static_cast<long long>(row.forwarded);
      sql_ << (mysql_ ? "REPLACE INTO stats (sampled_at, announces, scrapes, forwarded) "
                        "VALUES (:a, :b, :c, :d)"
                      : "INSERT OR REPLACE INTO stats (sampled_at, announces, scrapes, forwarded) "
                        "VALUES (:a, :b, :c, :d)"),
          soci::use(at), soci::use(announces), soci::use(scrapes), soci::use(forwarded);
      for (const auto& [group, peers] : row.returned_by_group) {
        long long count = static_cast<long long>(peers);
        std::string name = group;
        sql_ << (mysql_ ? "REPLACE INTO stats_returned (sampled_at, peer_group, peers) "
                          "VALUES (:a, :b, :c)"
                        : "INSERT OR REPLACE INTO stats_returned (sampled_at, peer_group, peers) "
                          "VALUES (:a, :b, :c)"),
            soci::use(at), soci::use(name), soci::use(count);
      }
    }
  }

  soci::session sql_;
  bool mysql_ = false;
  std::string describe_;
};

}  // namespace

void prepare_for_run(Database& database, bool create_if_empty) {
  int version = database.schema_version();
  if (version == 0 && create_if_empty) {
    database.init();
    version = database.schema_version();
  }
  if (version == 0) {
    throw SchemaError(database.describe() +
                      " holds no btrt schema: run `btrt db init` (or feed "
                      "btrt.db_creation.sql to the mysql client)");
  }
  if (version < kSchemaVersion) {
    throw SchemaError(database.describe() + " has schema version " + std::to_string(version) +
                      ", this btrt needs " + std::to_string(kSchemaVersion) +
                      ": run `btrt db upgrade`");
  }
  if (version > kSchemaVersion) {
    throw SchemaError(database.describe() + " has schema version " + std::to_string(version) +
                      ", newer than this btrt knows (" + std::to_string(kSchemaVersion) +
                      "): upgrade btrt");
  }
}

std::string init_schema(Database& database) {
  int version = database.schema_version();
  if (version == kSchemaVersion) {
    return database.describe() + ": schema version " + std::to_string(version) +
           " is already in place";
  }
  if (version != 0) {
    throw DatabaseError(
        database.describe() + " has schema version " + std::to_string(version) +
        (version < kSchemaVersion ? ": run `btrt db upgrade`" : ", newer than this btrt knows"));
  }
  database.init();
  return database.describe() + ": created schema version " +
         std::to_string(database.schema_version());
}

std::string upgrade_schema(Database& database) {
  int before = database.schema_version();
  if (before > kSchemaVersion) {
    throw DatabaseError(database.describe() + " has schema version " + std::to_string(before) +
                        ", newer than this btrt knows (" + std::to_string(kSchemaVersion) + ")");
  }
  database.upgrade();
  int after = database.schema_version();
  if (after == before) {
    return database.describe() + ": schema version " + std::to_string(after) + " is current";
  }
  return database.describe() + ": upgraded schema version " + std::to_string(before) + " to " +
         std::to_string(after);
}

std::unique_ptr<Database> Database::connect(const config::Database& config) {
  return std::make_unique<SociDatabase>(config);
}

}  // namespace btrt::storage
