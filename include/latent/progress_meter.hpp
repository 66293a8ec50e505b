#pragma once
// A one-line meter for long loops that are not training epochs (all users'
// recommendations, the score matrix, similar pairs, tuning trials):
//   recommend: 61440/138000 users (44%) - 3s - ETA: 4s
// redrawn in place on a terminal, at most ten times a second, and erased
// when the work is done; silent when the stream is not a terminal, where
// the command's own summary line says what was done.
//
// update() may be called from several threads at once (a parallel loop's
// workers): the count only grows, and one caller at a time draws.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>

namespace latent {

class ProgressMeter {
 public:
  // Interactive when `out` is a terminal.
  ProgressMeter(std::FILE* out, std::string label, std::string unit);
  ProgressMeter(std::FILE* out, std::string label, std::string unit, bool interactive);
  ~ProgressMeter();
  ProgressMeter(const ProgressMeter&) = delete;
  ProgressMeter& operator=(const ProgressMeter&) = delete;

  // `done` of `total` units finished so far.
  void update(std::int64_t done, std::int64_t total);
  // Erases the line, so that other output can be written; the next update
  // draws it again.
  void clear();
  // Erases the line; later updates draw nothing.
  void finish();

 private:
  using Clock = std::chrono::steady_clock;
  void draw(std::int64_t done, std::int64_t total);

  std::FILE* out_;
  std::string label_;
  std::string unit_;
  bool interactive_;
  Clock::time_point start_ = Clock::now();
  std::mutex drawing_;
  Clock::time_point last_draw_{};
  std::atomic<std::int64_t> done_{0};
  bool drawn_ = false;
  bool finished_ = false;
};

}  // namespace latent
