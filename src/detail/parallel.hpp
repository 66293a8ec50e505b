#pragma once
// Helpers for latent's own OpenMP threads (BLAS stays single-threaded inside
// them, see blas.hpp).

#include <exception>
#include <mutex>
#include <string>

#include <omp.h>

#include <latent/error.hpp>

namespace latent::detail {

// The thread count for a request: `requested` if positive, all OpenMP threads
// (omp_get_max_threads()) for 0. Throws InvalidArgument for negative values.
inline int resolve_threads(int requested) {
  if (requested < 0) {
    throw Error(ErrorKind::InvalidArgument,
                "threads must be >= 0 (0: all hardware threads), got " + std::to_string(requested));
  }
  return requested > 0 ? requested : omp_get_max_threads();
}

// An exception must not leave an OpenMP region (that terminates the
// process): catch it inside with capture(), rethrow after the region.
class FirstException {
 public:
  // Call from a catch block; keeps the first exception of any thread.
  void capture() noexcept {
    std::lock_guard lock(mutex_);
    if (!error_) error_ = std::current_exception();
  }
  bool failed() const noexcept {
    std::lock_guard lock(mutex_);
    return static_cast<bool>(error_);
  }
  void rethrow() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  mutable std::mutex mutex_;
  std::exception_ptr error_;
};

}  // namespace latent::detail
