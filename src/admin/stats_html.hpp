#pragma once

#include <string_view>

namespace btrt::admin {

// src/admin/stats.html, compiled in by src/admin/embed_page.cmake (the page must work
// without any file or network access).
extern const std::string_view kStatsHtml;

}  // namespace btrt::admin
