#include <latent/progress_meter.hpp>

#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

#include <latent/progress.hpp>

namespace latent {

ProgressMeter::ProgressMeter(std::FILE* out, std::string label, std::string unit)
    : ProgressMeter(out, std::move(label), std::move(unit), ::isatty(::fileno(out)) != 0) {}

ProgressMeter::ProgressMeter(std::FILE* out, std::string label, std::string unit, bool interactive)
    : out_(out), label_(std::move(label)), unit_(std::move(unit)), interactive_(interactive) {}

ProgressMeter::~ProgressMeter() { finish(); }

void ProgressMeter::update(std::int64_t done, std::int64_t total) {
  if (!interactive_) return;
  // The largest count seen wins: workers report out of order.
  std::int64_t seen = done_.load(std::memory_order_relaxed);
  while (done > seen && !done_.compare_exchange_weak(seen, done, std::memory_order_relaxed)) {
  }
  std::unique_lock lock(drawing_, std::try_to_lock);
  if (!lock.owns_lock() || finished_) return;  // another thread is drawing
  const auto now = Clock::now();
  if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  draw(std::max(done, done_.load(std::memory_order_relaxed)), total);
}

void ProgressMeter::draw(std::int64_t done, std::int64_t total) {
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  std::string line = fmt::format("{}: {}/{} {}", label_, done, total, unit_);
  if (total > 0) line += fmt::format(" ({:.0f}%)", 100.0 * static_cast<double>(done) / total);
  line += " - " + format_duration(elapsed);
  if (done > 0 && done < total) {
    line += " - ETA: " + format_duration(elapsed / static_cast<double>(done) *
                                         static_cast<double>(total - done));
  }
  fmt::print(out_, "\r{}\033[K", line);
  std::fflush(out_);
  drawn_ = true;
}

void ProgressMeter::clear() {
  std::lock_guard lock(drawing_);
  if (drawn_) {
    fmt::print(out_, "\r\033[K");
    std::fflush(out_);
    drawn_ = false;
  }
}

void ProgressMeter::finish() {
  clear();
  std::lock_guard lock(drawing_);
  finished_ = true;
}

}  // namespace latent
