#include "hashlist/file_writer.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace btrt::hashlist {
namespace {

namespace fs = std::filesystem;

class FileWriter : public ::testing::Test {
 protected:
  fs::path dir;
  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("btrt_hashlist_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override {
    fs::permissions(dir, fs::perms::owner_all);
    fs::remove_all(dir);
  }
  static std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  std::size_t entries() const {
    return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), {}));
  }
};

TEST_F(FileWriter, ReplacesTheFileAndLeavesNoTemporary) {
  const fs::path file = dir / "hashlist.bin";
  write_atomically(file.string(), std::string(40, 'a'));
  EXPECT_EQ(read(file), std::string(40, 'a'));
  write_atomically(file.string(), "");
  EXPECT_EQ(fs::file_size(file), 0u);
  EXPECT_EQ(entries(), 1u);
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST_F(FileWriter, AReaderKeepsTheOldContentsItOpened) {
  // What makes the replacement atomic for the DPI: an open file is never rewritten.
  const fs::path file = dir / "hashlist.bin";
  write_atomically(file.string(), std::string(20, 'x'));
  std::ifstream old(file, std::ios::binary);
  write_atomically(file.string(), std::string(60, 'y'));
  std::stringstream s;
  s << old.rdbuf();
  EXPECT_EQ(s.str(), std::string(20, 'x'));
  EXPECT_EQ(read(file), std::string(60, 'y'));
}

TEST_F(FileWriter, ErrorsNameThePath) {
  const fs::path missing = dir / "no" / "such" / "hashlist.bin";
  try {
    write_atomically(missing.string(), "x");
    FAIL() << "no error";
  } catch (const WriteError& e) {
    EXPECT_NE(std::string(e.what()).find(missing.string()), std::string::npos) << e.what();
  }
}

TEST_F(FileWriter, AFailedRenameLeavesNoTemporary) {
  // A directory where the file should be: everything succeeds but the rename (also as root).
  const fs::path target = dir / "hashlist.bin";
  fs::create_directory(target);
  EXPECT_THROW(write_atomically(target.string(), std::string(20, 'x')), WriteError);
  EXPECT_EQ(entries(), 1u);
  EXPECT_TRUE(fs::is_directory(target));
}

}  // namespace
}  // namespace btrt::hashlist
