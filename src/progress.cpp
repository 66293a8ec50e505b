#include <latent/progress.hpp>

#include <unistd.h>

#include <cmath>
#include <string>

#include <fmt/format.h>

namespace latent {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<long long>(std::llround(seconds));
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
}

ProgressBar::ProgressBar(std::FILE* out) : ProgressBar(out, ::isatty(::fileno(out)) != 0) {}

ProgressBar::ProgressBar(std::FILE* out, bool interactive, double log_interval)
    : out_(out), interactive_(interactive), log_interval_(log_interval) {}

bool ProgressBar::shows(int epoch, int epochs) const {
  if (interactive_ || epoch <= 1 || epoch == epochs) return true;
  return std::chrono::duration<double>(Clock::now() - last_line_).count() >= log_interval_;
}

void ProgressBar::draw(const TrainProgress& p, bool finished) const {
  constexpr int kWidth = 30;
  const int filled = p.batches > 0 ? kWidth * p.batch / p.batches : kWidth;
  std::string bar(static_cast<std::size_t>(filled), '=');
  if (filled < kWidth) {
    bar += '>';
    bar.append(static_cast<std::size_t>(kWidth - filled - 1), '.');
  }
  const double per_step = p.batch > 0 ? p.seconds / p.batch : 0.0;
  std::string time = fmt::format("{:.0f}s {:.0f}ms/step", p.seconds, 1000.0 * per_step);
  if (!finished && p.batch > 0) {
    time = fmt::format("ETA: {}", format_duration(per_step * (p.batches - p.batch)));
  }
  fmt::print(out_, "{}{}/{} [{}] - {} - loss: {:.4f}", interactive_ ? "\r" : "", p.batch, p.batches,
             bar, time, p.loss);
  if (interactive_) fmt::print(out_, "\033[K");  // the rest of a longer earlier line
}

void ProgressBar::plain_line(const EpochReport& e, bool finished) {
  fmt::print(out_, "{}Epoch {}", interactive_ ? "\r" : "", e.epoch);
  if (e.epochs > 0) fmt::print(out_, "/{}", e.epochs);
  fmt::print(out_, " - {:.2f}s", e.seconds);
  if (std::isfinite(e.loss)) fmt::print(out_, " - loss: {:.6f}", e.loss);
  if (std::isfinite(e.sampled_accuracy)) {
    fmt::print(out_, " - sampled accuracy: {:.4f}", e.sampled_accuracy);
  }
  if (!finished && e.epochs > e.epoch) {
    const double per_epoch = trained_seconds_ / e.epoch;
    fmt::print(out_, " - ETA: {}", format_duration(per_epoch * (e.epochs - e.epoch)));
  }
  if (interactive_) fmt::print(out_, "\033[K");
}

void ProgressBar::on_progress(const TrainProgress& p) {
  if (p.epoch != header_epoch_) {
    header_epoch_ = p.epoch;
    showing_ = shows(p.epoch, p.epochs);
    if (showing_) fmt::print(out_, "Epoch {}/{}\n", p.epoch, p.epochs);
  }
  last_ = p;
  if (interactive_) {
    draw(p, false);
    std::fflush(out_);
  }
}

void ProgressBar::on_epoch(const EpochReport& e) {
  if (last_.epoch != e.epoch) {
    // A model without batches (ALS, BPR, EASE, popularity): one line each,
    // redrawn in place on a terminal.
    const bool last = e.epochs <= 0 || e.epoch >= e.epochs;
    trained_seconds_ += e.seconds;
    if (!shows(e.epoch, e.epochs)) return;
    plain_line(e, last);
    if (!interactive_ || last) fmt::print(out_, "\n");
    std::fflush(out_);
    last_line_ = Clock::now();
    return;
  }
  if (!showing_) return;
  TrainProgress p = last_;
  p.batch = p.batches;
  p.loss = e.loss;
  p.seconds = e.seconds;
  draw(p, true);
  auto metrics = [&](const TopKAccuracy& acc, const char* prefix) {
    for (std::size_t k = 0; k < acc.ks.size(); ++k) {
      fmt::print(out_, " - {}top_{}: {:.4f}", prefix, acc.ks[k], acc.accuracy[k]);
    }
  };
  if (e.has_train) {
    metrics(e.train, "");
    if (e.train.sampled) fmt::print(out_, " (on {} sampled pairs)", e.train.pairs);
  }
  if (e.has_test) metrics(e.test, "test_");
  // Keras' order: the ranking task's RMSE after the retrieval metrics.
  if (std::isfinite(e.train_rmse)) fmt::print(out_, " - rmse: {:.4f}", e.train_rmse);
  if (std::isfinite(e.test_rmse)) fmt::print(out_, " - test_rmse: {:.4f}", e.test_rmse);
  fmt::print(out_, "\n");
  std::fflush(out_);
  last_line_ = Clock::now();
}

}  // namespace latent
