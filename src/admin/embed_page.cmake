# Writes OUTPUT: a C++ file defining the page INPUT as btrt::admin::kStatsHtml.
file(READ "${INPUT}" text)
file(WRITE "${OUTPUT}.tmp" "// Generated from ${INPUT} by src/admin/embed_page.cmake; do not edit.
#include \"admin/stats_html.hpp\"

namespace btrt::admin {
const std::string_view kStatsHtml = R\"btrt_page(${text})btrt_page\";
}  // namespace btrt::admin
")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
