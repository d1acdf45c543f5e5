#pragma once

#include <string_view>
#include <vector>

// The SQL scripts of sql/, compiled in (generated from the files by CMake), so that
// `btrt db init|upgrade` and `btrt run` need no file beside the binary.
namespace btrt::storage::sql {

struct Upgrade {
  int version;  // the schema version the script brings the database to
  std::string_view script;
};

extern const std::string_view kMysqlCreation;
extern const std::string_view kSqliteCreation;
extern const std::vector<Upgrade> kMysqlUpgrades;
extern const std::vector<Upgrade> kSqliteUpgrades;

}  // namespace btrt::storage::sql
