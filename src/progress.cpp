#include <latent/progress.hpp>

#include <unistd.h>

#include <cmath>
#include <string>

#include <fmt/format.h>

namespace latent {

ProgressBar::ProgressBar(std::FILE* out) : ProgressBar(out, ::isatty(::fileno(out)) != 0) {}

void ProgressBar::draw(const TrainProgress& p, const char* end) const {
  constexpr int kWidth = 30;
  const int filled = p.batches > 0 ? kWidth * p.batch / p.batches : kWidth;
  std::string bar(static_cast<std::size_t>(filled), '=');
  if (filled < kWidth) {
    bar += '>';
    bar.append(static_cast<std::size_t>(kWidth - filled - 1), '.');
  }
  const double per_step_ms = p.batch > 0 ? 1000.0 * p.seconds / p.batch : 0.0;
  fmt::print(out_, "{}{}/{} [{}] - {:.0f}s {:.0f}ms/step - loss: {:.4f}{}",
             interactive_ ? "\r" : "", p.batch, p.batches, bar, p.seconds, per_step_ms, p.loss,
             end);
}

void ProgressBar::on_progress(const TrainProgress& p) {
  if (p.epoch != header_epoch_) {
    header_epoch_ = p.epoch;
    fmt::print(out_, "Epoch {}/{}\n", p.epoch, p.epochs);
  }
  last_ = p;
  if (interactive_) {
    draw(p, "");
    std::fflush(out_);
  }
}

void ProgressBar::on_epoch(const EpochReport& e) {
  if (last_.epoch != e.epoch) {
    // A model without batches (ALS, BPR, EASE, popularity): one line each.
    fmt::print(out_, "Epoch {} - {:.2f}s", e.epoch, e.seconds);
    if (std::isfinite(e.loss)) fmt::print(out_, " - loss: {:.6f}", e.loss);
    if (std::isfinite(e.sampled_accuracy)) {
      fmt::print(out_, " - sampled accuracy: {:.4f}", e.sampled_accuracy);
    }
    fmt::print(out_, "\n");
    std::fflush(out_);
    return;
  }
  TrainProgress p = last_;
  p.batch = p.batches;
  p.loss = e.loss;
  p.seconds = e.seconds;
  draw(p, "");
  auto metrics = [&](const TopKAccuracy& acc, const char* prefix) {
    for (std::size_t k = 0; k < acc.ks.size(); ++k) {
      fmt::print(out_, " - {}top_{}: {:.4f}", prefix, acc.ks[k], acc.accuracy[k]);
    }
  };
  if (e.has_train) metrics(e.train, "");
  if (e.has_test) metrics(e.test, "test_");
  fmt::print(out_, "\n");
  std::fflush(out_);
}

}  // namespace latent
