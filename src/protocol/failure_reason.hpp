#pragma once

namespace btrt::protocol {

// Why a client's request is refused, as its `failure reason` says it: static text naming the
// bad or missing parameter, null when there is none. The only error text that reaches a client
// from btrt's own checks (docs/design.md, "Errors"): never a message built from an exception,
// an address, a path or a remote's error, so nothing internal leaks and nothing allocates.
using FailureReason = const char*;

}  // namespace btrt::protocol
