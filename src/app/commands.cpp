#include "app/commands.hpp"

#include <absl/base/config.h>
#include <fmt/core.h>
#include <spdlog/version.h>

#include <CLI/CLI.hpp>
#include <boost/version.hpp>
#include <filesystem>
#include <iostream>

#include "app/tracker.hpp"
#include "clock/clock.hpp"
#include "config/config.hpp"
#include "hashlist/file_writer.hpp"
#include "hashlist/selection.hpp"
#include "storage/database.hpp"
#include "upstream/resolver.hpp"

namespace btrt::app {
namespace {

constexpr const char* kDefaultConfig = "/etc/btrt/btrt.conf";

constexpr const char* kUsage =
    "btrt — BitTorrent proxy tracker for internet providers\n"
    "\n"
    "Usage:\n"
    "  btrt help                           usage of every command\n"
    "  btrt version                        version, build type, linked library versions\n"
    "  btrt run [-c FILE]                  run the tracker in the foreground (the service runs "
    "this)\n"
    "  btrt check-config [-c FILE]         validate; prints OK, or every error as FILE:LINE: "
    "message\n"
    "  btrt db init [-c FILE]              create the schema in the configured database "
    "(idempotent)\n"
    "  btrt db upgrade [-c FILE]           apply pending schema migrations\n"
    "  btrt hashlist [-c FILE] [-o FILE]   write hashlist.bin now, from the database\n"
    "\n"
    "  -c FILE defaults to /etc/btrt/btrt.conf.\n"
    "\n"
    "Signals (btrt run): SIGTERM/SIGINT stop gracefully; SIGHUP reloads the configuration.\n"
    "Exit status: 0 success, 1 runtime failure, 2 bad usage or invalid configuration.\n";

int check_config(const std::string& path) {
  auto result = config::load_file(path);
  if (!result.errors.empty()) {
    for (const auto& e : result.errors) std::cerr << e.to_string() << "\n";
    return kBadUsage;
  }
  std::cout << "OK\n";
  return kSuccess;
}

int version() {
  std::cout << "btrt " << BTRT_VERSION << " (" << BTRT_BUILD_TYPE << ")\n"
            << "  boost " << BOOST_VERSION / 100000 << "." << BOOST_VERSION / 100 % 1000 << "."
            << BOOST_VERSION % 100 << "\n"
            << "  yaml-cpp " << BTRT_YAML_CPP_VERSION << "\n"
            << "  spdlog " << SPDLOG_VER_MAJOR << "." << SPDLOG_VER_MINOR << "." << SPDLOG_VER_PATCH
            << "\n"
            << "  fmt " << FMT_VERSION / 10000 << "." << FMT_VERSION / 100 % 100 << "."
            << FMT_VERSION % 100 << "\n"
            << "  CLI11 " << CLI11_VERSION << "\n"
            << "  abseil " << ABSL_LTS_RELEASE_VERSION << "\n"
            << "  c-ares " << upstream::Resolver::version() << "\n";
  return kSuccess;
}

// `btrt db init` and `btrt db upgrade`.
int db_command(const std::string& path, bool upgrade) {
  auto loaded = config::load_file(path);
  if (!loaded.errors.empty()) {
    for (const auto& e : loaded.errors) std::cerr << e.to_string() << "\n";
    return kBadUsage;
  }
  try {
    auto database = storage::Database::connect(loaded.config->database);
    std::cout << (upgrade ? storage::upgrade_schema(*database) : storage::init_schema(*database))
              << "\n";
    return kSuccess;
  } catch (const storage::DatabaseError& e) {
    std::cerr << "btrt: " << e.what() << "\n";
    return kRuntimeFailure;
  }
}

// `btrt hashlist`: the same selection as `btrt run` makes from memory, made from the
// peers stored in the database (what the last flush of a running or stopped btrt left).
int hashlist_command(const std::string& path, const std::string& output) {
  auto loaded = config::load_file(path);
  if (!loaded.errors.empty()) {
    for (const auto& e : loaded.errors) std::cerr << e.to_string() << "\n";
    return kBadUsage;
  }
  const config::Config& config = *loaded.config;
  const std::string target = output.empty() ? config.hashlist.path : output;
  const auto classifier = make_classifier(config);
  const auto groups = hashlist::groups_named(*classifier, config.hashlist.groups);
  // Opening a missing SQLite file would create it, owned by whoever runs this command (root,
  // typically), and the service could then not write its own database.
  if (config.database.kind == config::Database::Kind::sqlite &&
      !std::filesystem::exists(config.database.location)) {
    std::cerr << "btrt: no database at " << config.database.location
              << " (`btrt run` creates it)\n";
    return kRuntimeFailure;
  }
  std::vector<hashlist::Candidate> candidates;
  try {
    auto database = storage::Database::connect(config.database);
    storage::prepare_for_run(*database, false);
    database->load_peers(clock::SteadyClock().unix_now(), [&](const storage::PeerRow& row) {
      if (row.seeder && groups.test(classifier->classify(row.address))) {
        candidates.push_back({row.info_hash, 1});
      }
    });
  } catch (const storage::DatabaseError& e) {
    std::cerr << "btrt: " << e.what() << "\n";
    return kRuntimeFailure;
  }
  const auto hashes = hashlist::select(std::move(candidates), config.hashlist.min_seeders);
  try {
    hashlist::write_atomically(target, hashlist::encode(hashes));
  } catch (const hashlist::WriteError& e) {
    std::cerr << "btrt: " << e.what() << "\n";
    return kRuntimeFailure;
  }
  std::cout << hashes.size() << " torrents written to " << target << "\n";
  return kSuccess;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"btrt — BitTorrent proxy tracker for internet providers", "btrt"};
  cli.set_help_flag("-h,--help", "print this help");
  cli.require_subcommand(1);
  std::string config_path = kDefaultConfig;
  std::string output;

  auto* help = cli.add_subcommand("help", "usage of every command");
  cli.add_subcommand("version", "version, build type, linked library versions");
  auto* run =
      cli.add_subcommand("run", "run the tracker in the foreground (the service runs this)");
  auto* check = cli.add_subcommand("check-config",
                                   "validate; prints OK, or every error as FILE:LINE: message");
  auto* db = cli.add_subcommand("db", "database schema: init | upgrade");
  db->require_subcommand(1);
  auto* db_init =
      db->add_subcommand("init", "create the schema in the configured database (idempotent)");
  auto* db_upgrade = db->add_subcommand("upgrade", "apply pending schema migrations");
  auto* hashlist = cli.add_subcommand("hashlist", "write hashlist.bin now, from the database");
  for (auto* command : {run, check, db_init, db_upgrade, hashlist}) {
    command->add_option("-c,--config", config_path, "configuration file")->capture_default_str();
  }
  hashlist->add_option("-o,--output", output, "output file (default: hashlist.path)");

  try {
    cli.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return cli.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "btrt: " << e.what() << "\n" << kUsage;
    return kBadUsage;
  }

  if (help->parsed()) {
    std::cout << kUsage;
    return kSuccess;
  }
  if (cli.got_subcommand("version")) return version();
  if (check->parsed()) return check_config(config_path);
  if (run->parsed()) return run_tracker(config_path);
  if (db_init->parsed()) return db_command(config_path, false);
  if (db_upgrade->parsed()) return db_command(config_path, true);
  if (hashlist->parsed()) return hashlist_command(config_path, output);
  return kBadUsage;
}

}  // namespace btrt::app
