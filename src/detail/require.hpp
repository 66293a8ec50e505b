#pragma once
// Validation of user-supplied values at public entry points.

#include <string>

#include <latent/error.hpp>

namespace latent::detail {

// Throws Error(InvalidArgument, message) unless ok; the message names the
// field and the value.
inline void require(bool ok, const std::string& message) {
  if (!ok) throw Error(ErrorKind::InvalidArgument, message);
}

}  // namespace latent::detail
