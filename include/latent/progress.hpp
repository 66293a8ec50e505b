#pragma once
// A Keras-style progress bar for training, written to a stdio stream:
//   Epoch 1/3
//   14/14 [==============================] - 0s 9ms/step - loss: 31524.2031 - top_100: 0.1234
// and for the models without batches (ALS, BPR, EASE, popularity):
//   Epoch 12/800 - 0.01s - sampled accuracy: 0.8123
//
// On a terminal the line redraws in place after every batch or epoch, with
// an ETA. Otherwise (a log file, a pipe, a notebook's captured output) only
// finished epochs are written, and not all of them: the first, the last,
// and the first to end at least `log_interval` seconds after the previous
// line written, so BPR's 800 epochs make a few lines, not 802.

#include <chrono>
#include <cstdio>
#include <string>

#include <latent/training_report.hpp>

namespace latent {

class ProgressBar {
 public:
  static constexpr double kDefaultLogInterval = 10.0;  // seconds

  explicit ProgressBar(std::FILE* out);  // interactive when out is a terminal
  ProgressBar(std::FILE* out, bool interactive, double log_interval = kDefaultLogInterval);

  void on_progress(const TrainProgress& p);
  void on_epoch(const EpochReport& e);

 private:
  using Clock = std::chrono::steady_clock;

  // Whether epoch `epoch` of `epochs` gets its lines (always on a terminal).
  bool shows(int epoch, int epochs) const;
  void draw(const TrainProgress& p, bool finished) const;
  void plain_line(const EpochReport& e, bool finished);

  std::FILE* out_;
  bool interactive_;
  double log_interval_;
  Clock::time_point last_line_ = Clock::now();  // when the last line was written
  int header_epoch_ = 0;
  bool showing_ = true;         // the current batched epoch gets its lines
  double trained_seconds_ = 0;  // the epochs' seconds so far (models without batches)
  TrainProgress last_{};
};

// "7s", "2m05s", "1h02m": how long, for an ETA or an elapsed time.
std::string format_duration(double seconds);

}  // namespace latent
