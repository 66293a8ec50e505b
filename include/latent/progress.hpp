#pragma once
// A Keras-style progress bar for training, written to a stdio stream:
//   Epoch 1/3
//   14/14 [==============================] - 0s 9ms/step - loss: 31524.2031 - top_100: 0.1234
// On a terminal the bar redraws in place after every batch; otherwise only
// the finished line of each epoch is written, so logs stay readable.

#include <cstdio>

#include <latent/two_tower.hpp>

namespace latent {

class ProgressBar {
 public:
  explicit ProgressBar(std::FILE* out);
  ProgressBar(std::FILE* out, bool interactive) : out_(out), interactive_(interactive) {}

  void on_progress(const TrainProgress& p);
  void on_epoch(const EpochReport& e);

 private:
  void draw(const TrainProgress& p, const char* end) const;

  std::FILE* out_;
  bool interactive_;
  int header_epoch_ = 0;
  TrainProgress last_{};
};

}  // namespace latent
