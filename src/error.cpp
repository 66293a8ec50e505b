#include <latent/error.hpp>

namespace latent {

const char* to_string(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::InvalidArgument:
      return "invalid argument";
    case ErrorKind::NotFound:
      return "not found";
    case ErrorKind::Corruption:
      return "corruption";
    case ErrorKind::IO:
      return "I/O error";
    case ErrorKind::Unsupported:
      return "unsupported";
  }
  return "error";
}

}  // namespace latent
