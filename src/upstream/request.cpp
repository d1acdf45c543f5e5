#include "upstream/request.hpp"

#include <algorithm>
#include <boost/asio/error.hpp>
#include <boost/beast/http/error.hpp>
#include <string_view>

#include "text/strings.hpp"

namespace btrt::upstream {

namespace bhttp = boost::beast::http;
namespace asio = boost::asio;
using error_code = boost::system::error_code;

namespace {

// RFC 9110 tchar.
bool is_token_char(char c) {
  if (text::is_alpha(c) || text::is_digit(c)) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

const boost::system::error_category& http_category() {
  static const boost::system::error_category& category =
      bhttp::make_error_code(bhttp::error::partial_message).category();
  return category;
}

}  // namespace

const char* to_string(ClientError error) {
  switch (error) {
    case ClientError::none:
      return "none";
    case ClientError::bad_url:
      return "bad url";
    case ClientError::resolve_failed:
      return "resolve failed";
    case ClientError::destination_refused:
      return "destination refused";
    case ClientError::connect_failed:
      return "connect failed";
    case ClientError::timeout:
      return "timeout";
    case ClientError::too_large:
      return "too large";
    case ClientError::bad_response:
      return "bad response";
    case ClientError::redirect:
      return "redirect";
    case ClientError::address_busy:
      return "address busy";
  }
  return "unknown";
}

bool header_ok(const std::pair<std::string, std::string>& header) {
  const auto& [name, value] = header;
  if (name.empty() || !std::all_of(name.begin(), name.end(), is_token_char)) return false;
  if (text::iequals(name, "Content-Length") || text::iequals(name, "Transfer-Encoding")) {
    return false;
  }
  return std::none_of(value.begin(), value.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t') || u == 0x7f;
  });
}

bhttp::request<bhttp::empty_body> make_request(const text::HttpUrl& url, const Headers& headers,
                                               bool keep_alive) {
  auto given = [&](std::string_view name) {
    return std::any_of(headers.begin(), headers.end(),
                       [&](const auto& h) { return text::iequals(h.first, name); });
  };
  bhttp::request<bhttp::empty_body> request;
  request.method(bhttp::verb::get);
  request.target(url.target);
  request.version(11);
  if (!given("Host")) {
    std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
    if (url.port != 80) host += ":" + std::to_string(url.port);
    request.set(bhttp::field::host, host);
  }
  for (const auto& [name, value] : headers) request.insert(name, value);
  if (!given("Connection"))
    request.set(bhttp::field::connection, keep_alive ? "keep-alive" : "close");
  if (!given("Accept-Encoding")) request.set(bhttp::field::accept_encoding, "identity");
  return request;
}

ClientError classify(const error_code& ec) {
  if (ec == bhttp::error::body_limit) return ClientError::too_large;
  if (ec == bhttp::error::end_of_stream) return ClientError::connect_failed;  // closed, no answer
  if (ec.category() == http_category()) return ClientError::bad_response;
  return ClientError::connect_failed;  // reset, refused, aborted by shutdown()
}

bool is_stale_connection(const error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::error::connection_aborted;
}

}  // namespace btrt::upstream
