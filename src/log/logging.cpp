#include "log/logging.hpp"

#include <spdlog/details/file_helper.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <string_view>

namespace btrt::log {
namespace {

spdlog::level::level_enum to_spdlog(config::LogLevel level) {
  switch (level) {
    case config::LogLevel::critical:
      return spdlog::level::critical;
    case config::LogLevel::error:
      return spdlog::level::err;
    case config::LogLevel::warning:
      return spdlog::level::warn;
    case config::LogLevel::info:
      return spdlog::level::info;
    case config::LogLevel::diagnostic:
      return spdlog::level::debug;
    case config::LogLevel::debug:
      return spdlog::level::trace;
  }
  return spdlog::level::info;
}

constexpr auto kRetryOpen = std::chrono::seconds(10);

// Written straight to stderr: the sink cannot log through spdlog from inside itself.
void to_stderr(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
}

// A file sink that starts a new file every day at a time of day given to the second
// (spdlog's own daily sink knows only hours and minutes), and deletes files older than
// keep_days at the switch.
//
// A file that cannot be opened or written (no descriptor left, the directory gone or not
// writable, the disk full) never stops btrt: the lines go to stderr (warnings and worse are
// there already, through the console sink) and the file is tried again every kRetryOpen.
class DailySwitchSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  DailySwitchSink(std::filesystem::path directory, std::uint32_t switch_time,
                  std::uint32_t keep_days)
      : directory_(std::move(directory)), switch_time_(switch_time), keep_days_(keep_days) {
    switch_to(std::chrono::system_clock::now());
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (msg.time >= next_switch_) {
      switch_to(msg.time);
    } else if (!open_ && msg.time >= next_retry_) {
      try_open(msg.time);
    }
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    if (open_) {
      try {
        file_.write(formatted);
        return;
      } catch (const spdlog::spdlog_ex& e) {
        // Disk full, the file system gone: close it and try again later.
        give_up(msg.time, e.what());
      }
    }
    if (msg.level < spdlog::level::warn) {
      to_stderr(std::string_view(formatted.data(), formatted.size()));
    }
  }
  void flush_() override {
    if (!open_) return;
    try {
      file_.flush();
    } catch (const spdlog::spdlog_ex& e) {
      give_up(std::chrono::system_clock::now(), e.what());
    }
  }

 private:
  // The current period began at the last switch time at or before `now`; the file is
  // named after that day, so every period has its own file.
  void switch_to(std::chrono::system_clock::time_point now) {
    std::time_t t = std::chrono::system_clock::to_time_t(now);
    std::tm local{};
    localtime_r(&t, &local);
    std::tm start = local;
    start.tm_hour = static_cast<int>(switch_time_ / 3600);
    start.tm_min = static_cast<int>(switch_time_ / 60 % 60);
    start.tm_sec = static_cast<int>(switch_time_ % 60);
    start.tm_isdst = -1;
    std::time_t period_start = std::mktime(&start);
    if (period_start > t) {
      start.tm_mday -= 1;
      start.tm_isdst = -1;
      period_start = std::mktime(&start);
    }
    std::tm next = start;
    next.tm_mday += 1;
    next.tm_isdst = -1;
    next_switch_ = std::chrono::system_clock::from_time_t(std::mktime(&next));

    std::tm day{};
    localtime_r(&period_start, &day);
    name_ = file_name(day);
    if (keep_days_ != 0) {
      std::tm oldest = day;
      oldest.tm_mday -= static_cast<int>(keep_days_);
      oldest.tm_hour = 12;  // away from a DST change at midnight
      oldest.tm_isdst = -1;
      std::time_t oldest_time = std::mktime(&oldest);
      std::tm oldest_day{};
      localtime_r(&oldest_time, &oldest_day);
      delete_before(file_name(oldest_day));  // first: it may free the space the new file needs
    }
    if (open_) {
      file_.close();
      open_ = false;
    }
    try_open(now);
  }

  static std::string file_name(const std::tm& day) {
    char name[40];
    std::strftime(name, sizeof(name), "btrt-%Y-%m-%d.log", &day);
    return name;
  }

  // Deletes btrt's own dated files named before `oldest` (the names sort by date), nothing
  // else: the directory may hold other files.
  void delete_before(const std::string& oldest) {
    std::error_code ec;
    std::filesystem::directory_iterator it(directory_, ec);
    for (; !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (!is_dated_file(name) || name >= oldest) continue;
      std::error_code type_ec;
      if (!it->is_regular_file(type_ec)) continue;
      std::error_code remove_ec;
      std::filesystem::remove(it->path(), remove_ec);
      if (remove_ec) {
        to_stderr(fmt::format("btrt: cannot delete the old log file {}: {}\n", it->path().string(),
                              remove_ec.message()));
      }
    }
  }

  static bool is_dated_file(std::string_view name) {
    constexpr std::string_view shape = "btrt-0000-00-00.log";
    if (name.size() != shape.size()) return false;
    for (std::size_t i = 0; i < name.size(); ++i) {
      if (shape[i] == '0' ? (name[i] < '0' || name[i] > '9') : name[i] != shape[i]) return false;
    }
    return true;
  }

  void try_open(std::chrono::system_clock::time_point now) {
    const std::string path = (directory_ / name_).string();
    try {
      std::error_code ec;
      std::filesystem::create_directories(directory_, ec);  // it may have been removed
      file_.open(path, false);                              // append
      open_ = true;
      if (failed_since_) {
        to_stderr(fmt::format("btrt: logging to {} again\n", path));
        failed_since_ = false;
      }
    } catch (const spdlog::spdlog_ex& e) {
      open_ = false;
      next_retry_ = now + kRetryOpen;
      if (!failed_since_) {
        to_stderr(
            fmt::format("btrt: cannot open the log file {} ({}); logging to stderr and "
                        "trying again every {} s\n",
                        path, e.what(), kRetryOpen.count()));
        failed_since_ = true;
      }
    }
  }

  void give_up(std::chrono::system_clock::time_point now, const char* why) {
    try {
      file_.close();
    } catch (const spdlog::spdlog_ex&) {
    }
    open_ = false;
    next_retry_ = now + kRetryOpen;
    if (!failed_since_) {
      to_stderr(
          fmt::format("btrt: cannot write the log file {} ({}); logging to stderr and "
                      "trying again every {} s\n",
                      (directory_ / name_).string(), why, kRetryOpen.count()));
      failed_since_ = true;
    }
  }

  std::filesystem::path directory_;
  std::uint32_t switch_time_;
  std::uint32_t keep_days_;
  std::string name_;
  std::chrono::system_clock::time_point next_switch_;
  std::chrono::system_clock::time_point next_retry_;
  bool open_ = false;
  bool failed_since_ = false;  // a failure was reported and no open has worked since
  spdlog::details::file_helper file_;
};

}  // namespace

void init(const config::Logging& logging) {
  std::error_code ec;
  std::filesystem::create_directories(logging.path, ec);
  // A directory that cannot be made now is not fatal either: the sink says so on stderr and
  // tries again, as it does when the directory goes away later.
  auto file =
      std::make_shared<DailySwitchSink>(logging.path, logging.switch_time, logging.keep_days);
  file->set_level(spdlog::level::trace);
  auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  console->set_level(spdlog::level::warn);
  auto logger = std::make_shared<spdlog::logger>("btrt", spdlog::sinks_init_list{file, console});
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e [%l] %v");
  logger->set_level(to_spdlog(logging.level));
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
  spdlog::flush_every(std::chrono::seconds(1));
}

void apply(const config::Logging& logging) {
  spdlog::default_logger()->set_level(to_spdlog(logging.level));
}

void shutdown() {
  spdlog::shutdown();
}

}  // namespace btrt::log
