# Writes OUTPUT: a C++ file defining the SQL scripts of sql/ as string views.
# Upgrade scripts are sql/<dialect>/upgrade/NNN_name.sql, NNN being the version they reach.
function(read_script var path)
  file(READ "${path}" text)
  set(${var} "R\"btrt_sql(${text})btrt_sql\"" PARENT_SCOPE)
endfunction()

read_script(mysql_creation "${SQL_DIR}/mysql/btrt.db_creation.sql")
read_script(sqlite_creation "${SQL_DIR}/sqlite/btrt.db_creation.sql")
foreach(dialect mysql sqlite)
  set(${dialect}_upgrades "")
  file(GLOB scripts "${SQL_DIR}/${dialect}/upgrade/*.sql")
  list(SORT scripts)
  foreach(script ${scripts})
    get_filename_component(name "${script}" NAME)
    string(REGEX MATCH "^[0-9]+" version "${name}")
    math(EXPR version "${version}")
    read_script(text "${script}")
    string(APPEND ${dialect}_upgrades "    {${version}, ${text}},\n")
  endforeach()
endforeach()

file(WRITE "${OUTPUT}.tmp" "// Generated from sql/ by src/storage/embed_sql.cmake; do not edit.
#include \"storage/schema_sql.hpp\"

namespace btrt::storage::sql {
const std::string_view kMysqlCreation = ${mysql_creation};
const std::string_view kSqliteCreation = ${sqlite_creation};
const std::vector<Upgrade> kMysqlUpgrades = {
${mysql_upgrades}};
const std::vector<Upgrade> kSqliteUpgrades = {
${sqlite_upgrades}};
}  // namespace btrt::storage::sql
")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
