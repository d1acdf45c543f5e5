// Prints the configuration loader's key tables, one key a line, tab-separated: section, key
// path, type, default, reload, doc (Markdown). The build turns it into btrt.conf(5)
// (packaging/man/btrt_conf5.py) and the tests hold docs/operations.md and
// etc/btrt.conf.default against it, so that none of them can drift from what btrt accepts.

#include <cstdio>
#include <string>

#include "config/config.hpp"

int main() {
  for (const btrt::config::KeyReference& key : btrt::config::key_reference()) {
    std::string section = key.path.substr(0, key.path.find_first_of(".["));
    std::printf("%s\t%s\t%s\t%s\t%s\t%s\n", section.c_str(), key.path.c_str(), key.type.c_str(),
                key.default_value.c_str(), key.reload.c_str(), key.doc.c_str());
  }
  return 0;
}
