#pragma once

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/system/error_code.hpp>
#include <string>
#include <utility>
#include <vector>

#include "text/url.hpp"
#include "upstream/client.hpp"

// The HTTP side of one upstream exchange: what is sent, and what a failure means.
namespace btrt::upstream {

using Headers = std::vector<std::pair<std::string, std::string>>;

// Extra headers must not break the request's framing or smuggle a second header.
bool header_ok(const std::pair<std::string, std::string>& header);

// The GET for `url` with the extra headers; Host, Connection and Accept-Encoding are added
// unless given. The target is sent byte-for-byte, never re-encoded.
boost::beast::http::request<boost::beast::http::empty_body> make_request(const text::HttpUrl& url,
                                                                         const Headers& headers,
                                                                         bool keep_alive);

// What a failed write or read of the exchange means for the caller.
ClientError classify(const boost::system::error_code& ec);

// What a server that closed a kept-alive connection looks like to the next request on it.
bool is_stale_connection(const boost::system::error_code& ec);

}  // namespace btrt::upstream
