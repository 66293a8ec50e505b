// The training progress bar: every epoch on a terminal (redrawn in place,
// with an ETA), a few lines in a log (include/latent/progress.hpp).

#include <gtest/gtest.h>

#include <cstdio>
#include <limits>
#include <string>

#include <latent/progress.hpp>
#include <latent/progress_meter.hpp>

namespace latent {
namespace {

// What a ProgressBar writes, through a real stdio stream.
class Captured {
 public:
  Captured() : file_(std::tmpfile()) {}
  ~Captured() { std::fclose(file_); }
  std::FILE* file() { return file_; }
  std::string text() {
    std::fflush(file_);
    std::rewind(file_);
    std::string s;
    for (int c; (c = std::fgetc(file_)) != EOF;) s.push_back(static_cast<char>(c));
    return s;
  }

 private:
  std::FILE* file_;
};

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

EpochReport plain(int epoch, int epochs) {
  EpochReport e;
  e.epoch = epoch;
  e.epochs = epochs;
  e.seconds = 0.5;
  e.loss = std::numeric_limits<double>::quiet_NaN();
  e.sampled_accuracy = 0.75;
  return e;
}

TEST(ProgressBar, ALogGetsTheFirstAndLastEpochAndOneLinePerInterval) {
  Captured out;
  {
    ProgressBar bar(out.file(), /*interactive=*/false, /*log_interval=*/1e9);
    for (int e = 1; e <= 800; ++e) bar.on_epoch(plain(e, 800));
  }
  const std::string text = out.text();
  EXPECT_EQ(count(text, "\n"), 2) << text;
  EXPECT_EQ(text.rfind("Epoch 1/800 - 0.50s - sampled accuracy: 0.7500 - ETA: 6m40s\n", 0), 0u)
      << text;
  EXPECT_NE(text.find("Epoch 800/800 - 0.50s - sampled accuracy: 0.7500\n"), std::string::npos);
  EXPECT_EQ(text.find('\r'), std::string::npos);

  Captured every;
  {
    ProgressBar bar(every.file(), false, /*log_interval=*/0);
    for (int e = 1; e <= 20; ++e) bar.on_epoch(plain(e, 20));
  }
  EXPECT_EQ(count(every.text(), "\n"), 20);
}

TEST(ProgressBar, ATerminalRedrawsEveryEpochInPlace) {
  Captured out;
  {
    ProgressBar bar(out.file(), /*interactive=*/true, 1e9);
    for (int e = 1; e <= 5; ++e) bar.on_epoch(plain(e, 5));
  }
  const std::string text = out.text();
  EXPECT_EQ(count(text, "\r"), 5) << text;
  EXPECT_EQ(count(text, "\n"), 1) << text;  // only after the last epoch
  EXPECT_NE(text.find("Epoch 4/5 - 0.50s - sampled accuracy: 0.7500 - ETA: 1s"), std::string::npos);
}

TEST(ProgressBar, BatchedEpochsInALogSkipTheirHeaderToo) {
  Captured out;
  {
    ProgressBar bar(out.file(), false, 1e9);
    for (int e = 1; e <= 4; ++e) {
      for (int b = 1; b <= 3; ++b) bar.on_progress({e, 4, b, 3, 1.5, 0.1 * b});
      EpochReport r;
      r.epoch = e;
      r.epochs = 4;
      r.loss = 1.25;
      r.seconds = 0.3;
      bar.on_epoch(r);
    }
  }
  const std::string text = out.text();
  EXPECT_EQ(text,
            "Epoch 1/4\n3/3 [==============================] - 0s 100ms/step - loss: 1.2500\n"
            "Epoch 4/4\n3/3 [==============================] - 0s 100ms/step - loss: 1.2500\n");
}

TEST(ProgressMeter, DrawsOnATerminalAndErasesItselfWhenDone) {
  Captured out;
  {
    ProgressMeter meter(out.file(), "recommend", "users", /*interactive=*/true);
    meter.update(3, 12);
    meter.update(2, 12);  // a worker reporting late: the count does not go back
    meter.clear();
    meter.update(6, 12);
    meter.finish();
    meter.update(9, 12);  // after finish: nothing
  }
  const std::string text = out.text();
  EXPECT_EQ(text.rfind("\rrecommend: 3/12 users (25%) - 0s - ETA: 0s\033[K\r\033[K", 0), 0u)
      << text;
  EXPECT_NE(text.find("\rrecommend: 6/12 users (50%)"), std::string::npos) << text;
  EXPECT_EQ(text.find("9/12"), std::string::npos) << text;
  EXPECT_TRUE(text.ends_with("\r\033[K")) << text;
}

TEST(ProgressMeter, IsSilentInALog) {
  Captured out;
  {
    ProgressMeter meter(out.file(), "pairs", "tiles", /*interactive=*/false);
    for (int i = 1; i <= 100; ++i) meter.update(i, 100);
  }
  EXPECT_EQ(out.text(), "");
}

TEST(ProgressBar, DurationsReadLikeAClock) {
  EXPECT_EQ(format_duration(0.4), "0s");
  EXPECT_EQ(format_duration(59.4), "59s");
  EXPECT_EQ(format_duration(125), "2m05s");
  EXPECT_EQ(format_duration(3720), "1h02m");
  EXPECT_EQ(format_duration(-1), "?");
}

}  // namespace
}  // namespace latent
