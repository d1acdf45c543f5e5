#include "log/logging.hpp"

#include <spdlog/details/file_helper.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <ctime>
#include <filesystem>
#include <mutex>
#include <stdexcept>

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

// A file sink that starts a new file every day at a time of day given to the second
// (spdlog's own daily sink knows only hours and minutes).
class DailySwitchSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  DailySwitchSink(std::filesystem::path directory, std::uint32_t switch_time)
      : directory_(std::move(directory)), switch_time_(switch_time) {
    open(std::chrono::system_clock::now());
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (msg.time >= next_switch_) open(msg.time);
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    file_.write(formatted);
  }
  void flush_() override { file_.flush(); }

 private:
  // The current period began at the last switch time at or before `now`; the file is
  // named after that day, so every period has its own file.
  void open(std::chrono::system_clock::time_point now) {
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
    char name[40];
    std::strftime(name, sizeof(name), "btrt-%Y-%m-%d.log", &day);
    file_.close();
    file_.open((directory_ / name).string(), false);  // append
  }

  std::filesystem::path directory_;
  std::uint32_t switch_time_;
  std::chrono::system_clock::time_point next_switch_;
  spdlog::details::file_helper file_;
};

}  // namespace

void init(const config::Logging& logging) {
  std::error_code ec;
  std::filesystem::create_directories(logging.path, ec);
  if (ec) {
    throw std::runtime_error("cannot create log directory '" + logging.path + "': " + ec.message());
  }
  std::shared_ptr<DailySwitchSink> file;
  try {
    file = std::make_shared<DailySwitchSink>(logging.path, logging.switch_time);
  } catch (const spdlog::spdlog_ex& e) {
    throw std::runtime_error("cannot write logs in '" + logging.path + "': " + e.what());
  }
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

void set_level(config::LogLevel level) {
  spdlog::default_logger()->set_level(to_spdlog(level));
}

void shutdown() {
  spdlog::shutdown();
}

}  // namespace btrt::log
