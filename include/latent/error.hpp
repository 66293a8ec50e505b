#pragma once
// One error type for every user-facing failure in latent. Internal invariants
// use assertions instead; an Error always means "the input or the environment
// was wrong", and its message names the offending file, line, field or value.

#include <stdexcept>
#include <string>

namespace latent {

enum class ErrorKind {
  InvalidArgument,  // an option or value out of range, an unknown name
  NotFound,         // an id, file or column that does not exist
  Corruption,       // a file whose contents fail validation (checksum, sizes)
  IO,               // the operating system refused a read or write
  Unsupported,      // a valid request this build cannot do (future format)
};

const char* to_string(ErrorKind kind) noexcept;

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const noexcept { return kind_; }

 private:
  ErrorKind kind_;
};

}  // namespace latent
