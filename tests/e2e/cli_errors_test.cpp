// Bad input to the CLI: one clear error line naming the file, line, column
// or value, a non-zero exit code, and no output file left behind.

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include <fmt/format.h>

#include <gtest/gtest.h>

#include "e2e/cli_runner.hpp"

namespace latent::test {
namespace {

void write(const std::filesystem::path& p, const std::string& text) { write_bytes(p, text); }

// Expects failure with exactly one "latent: error:" line containing `needle`.
void expect_error(const CliResult& r, const std::string& needle) {
  EXPECT_NE(r.exit_code, 0);
  EXPECT_LT(r.exit_code, 64) << "crashed or internal error: " << r.err;
  const auto ls = lines(r.err);
  ASSERT_FALSE(ls.empty()) << "no error message";
  EXPECT_EQ(ls.size(), 1u) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos)
      << "message: " << r.err << "\nwanted: " << needle;
}

class CliErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    csv_ = (dir_ / "ratings.csv").string();
    write(csv_, "user,item,rating\n1,10,5\n2,10,4\n2,11,2\n3,12,5\n1,12,4\n");
    model_ = (dir_ / "model.latent").string();
    auto r = run_cli(
        {"train", "--data", csv_, "--epochs", "1", "--dim", "8", "--out", model_, "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  TempDir dir_;
  std::string csv_;
  std::string model_;
};

TEST_F(CliErrors, MissingDataFile) {
  const auto missing = (dir_ / "nope.csv").string();
  expect_error(run_cli({"train", "--data", missing, "--quiet"}), missing);
}

TEST_F(CliErrors, UnknownColumnNamesTheColumn) {
  expect_error(run_cli({"train", "--data", csv_, "--user-col", "customer", "--quiet"}), "customer");
}

TEST_F(CliErrors, NonNumericRatingNamesFileLineAndValue) {
  const auto bad = (dir_ / "bad.csv").string();
  write(bad, "user,item,rating\n1,10,5\n2,10,abc\n");
  const auto r = run_cli({"train", "--data", bad, "--rating-above", "3", "--quiet"});
  expect_error(r, "abc");
  EXPECT_NE(r.err.find("bad.csv"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("3"), std::string::npos) << r.err;
}

TEST_F(CliErrors, EmptyAfterFiltering) {
  expect_error(run_cli({"train", "--data", csv_, "--rating-above", "10", "--quiet"}),
               "rating > 10");
}

TEST_F(CliErrors, InvalidOptionsNameTheValue) {
  expect_error(run_cli({"train", "--data", csv_, "--dim", "0", "--quiet"}), "dim = \"0\"");
  expect_error(run_cli({"train", "--data", csv_, "--learning-rate", "-1", "--quiet"}), "-1");
  expect_error(run_cli({"train", "--data", csv_, "--model", "svd", "--quiet"}), "two-tower");
  expect_error(run_cli({"train", "--data", csv_, "--optimizer", "sgd", "--quiet"}), "sgd");
  expect_error(run_cli({"train", "--data", csv_, "--test-fraction", "1.5", "--quiet"}), "1.5");
  expect_error(run_cli({"recommend", model_, "--user", "1", "--k", "0"}), "k must be > 0");
  expect_error(run_cli({"pairs", model_, "--threshold", "2"}), "2");
}

// A step size or confidence far too large overflows the vectors to inf or
// NaN; such a model would recommend nothing, so no model is written.
TEST_F(CliErrors, DivergedTrainingIsRefusedAndWritesNoModel) {
  const auto out = (dir_ / "diverged.latent").string();
  auto r = run_cli({"train", "--data", csv_, "--model", "two-tower", "--learning-rate", "1e30",
                    "--epochs", "2", "--dim", "8", "--out", out, "--quiet"});
  expect_error(r, "model \"two-tower\": the training diverged (non-finite values in the");
  EXPECT_NE(r.err.find("lower learning-rate"), std::string::npos) << r.err;
  r = run_cli(
      {"train", "--data", csv_, "--model", "als", "--alpha", "1e38", "--out", out, "--quiet"});
  expect_error(r, "model \"als\": the training diverged");
  EXPECT_NE(r.err.find("lower alpha or raise regularization"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST_F(CliErrors, UnknownUserAndItem) {
  expect_error(run_cli({"recommend", model_, "--user", "999"}), "\"999\"");
  expect_error(run_cli({"similar", model_, "--item", "424242"}), "\"424242\"");
}

TEST_F(CliErrors, TruncatedModelFile) {
  const std::string bytes = slurp(model_);
  const auto cut = (dir_ / "cut.latent").string();
  write(cut, bytes.substr(0, bytes.size() / 2));
  expect_error(run_cli({"recommend", cut, "--user", "1"}), cut);
}

TEST_F(CliErrors, CorruptedModelFile) {
  std::string bytes = slurp(model_);
  bytes[bytes.size() - 3] ^= 0x5a;
  const auto bad = (dir_ / "bad.latent").string();
  write(bad, bytes);
  expect_error(run_cli({"info", bad}), "checksum");
}

TEST_F(CliErrors, FutureFormatVersion) {
  std::string bytes = slurp(model_);
  const std::string from = "\"format_version\":\"1\"";
  const auto pos = bytes.find(from);
  ASSERT_NE(pos, std::string::npos);
  bytes.replace(pos, from.size(), "\"format_version\":\"9\"");
  const auto future = (dir_ / "future.latent").string();
  write(future, bytes);
  expect_error(run_cli({"info", future}), "version 9");
}

TEST_F(CliErrors, FailedTrainingLeavesNoModelFile) {
  const auto out = dir_ / "never.latent";
  run_cli({"train", "--data", csv_, "--rating-above", "10", "--out", out.string(), "--quiet"});
  EXPECT_FALSE(std::filesystem::exists(out));
  // An existing model is not touched by a failed run.
  const std::string before = slurp(model_);
  run_cli({"train", "--data", csv_, "--rating-above", "10", "--out", model_, "--quiet"});
  EXPECT_EQ(slurp(model_), before);
}

// --out through a symlink writes the file it points to and keeps the link;
// renaming over the link would leave its target stale.
TEST_F(CliErrors, OutThroughSymlinkWritesItsTarget) {
  namespace fs = std::filesystem;
  const auto real = dir_ / "real.csv";
  const auto link = dir_ / "link.csv";
  write(real, "old\n");
  fs::create_symlink(real, link);
  auto r = run_cli({"pairs", model_, "--out", link.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(slurp(real).rfind("item_a,item_b,similarity\n", 0), 0u) << slurp(real);

  // save_model too, through a relative link.
  const auto model_link = dir_ / "model-link.latent";
  fs::create_symlink("model.latent", model_link);
  const std::string before = slurp(model_);
  r = run_cli({"train", "--data", csv_, "--epochs", "1", "--dim", "4", "--out", model_link.string(),
               "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::is_symlink(model_link));
  EXPECT_NE(slurp(model_), before);
}

// A FIFO, a device or a directory is never replaced by a regular file.
TEST_F(CliErrors, OutRefusesFifoAndDirectory) {
  namespace fs = std::filesystem;
  const auto fifo = dir_ / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  expect_error(run_cli({"pairs", model_, "--out", fifo.string()}), fifo.string() + ": is a FIFO");
  expect_error(
      run_cli({"train", "--data", csv_, "--epochs", "1", "--out", fifo.string(), "--quiet"}),
      "is a FIFO");
  EXPECT_TRUE(fs::is_fifo(fifo));
  // Through a symlink, the message names the link and what it leads to.
  const auto link = dir_ / "fifo-link";
  fs::create_symlink(fifo, link);
  expect_error(run_cli({"pairs", model_, "--out", link.string()}), "is a FIFO");
  EXPECT_TRUE(fs::is_fifo(fifo));
  EXPECT_TRUE(fs::is_symlink(link));
  const auto sub = dir_ / "sub";
  fs::create_directory(sub);
  expect_error(run_cli({"pairs", model_, "--out", sub.string()}), "is a directory");
  EXPECT_TRUE(fs::is_directory(sub));
  for (const auto& entry : fs::directory_iterator(dir_.path())) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
  }
}

// A write removes the temporary files that killed (SIGKILL) processes left in
// its directory, and keeps those of live ones.
TEST_F(CliErrors, StaleTempFilesOfDeadProcessesAreRemoved) {
  namespace fs = std::filesystem;
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);  // reaped: the pid is dead
  const auto stale = dir_ / fmt::format(".x.tmp.{}.0", child);
  const auto live = dir_ / fmt::format(".y.tmp.{}.3", ::getpid());
  const auto other = dir_ / fmt::format(".z.tmp.{}", child);  // not the scheme
  write(stale, "partial");
  write(live, "partial");
  write(other, "partial");
  const auto r = run_cli({"pairs", model_, "--out", (dir_ / "pairs.csv").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(live));
  EXPECT_TRUE(fs::exists(other));
}

// --data must be a regular file or a directory: checked before opening, so a
// FIFO never blocks and a device never reads forever.
TEST_F(CliErrors, DataThatIsNotARegularFile) {
  const auto fifo = dir_ / "data-fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  expect_error(run_cli({"train", "--data", fifo.string(), "--quiet"}),
               fifo.string() + ": is a FIFO");
  EXPECT_TRUE(std::filesystem::is_fifo(fifo));
  // Reading these is harmless.
  expect_error(run_cli({"train", "--data", "/dev/null", "--quiet"}),
               "/dev/null: is a character device");
  expect_error(run_cli({"train", "--data", "/dev/zero", "--quiet"}),
               "/dev/zero: is a character device");
  const auto empty = dir_ / "empty.csv";
  write(empty, "");
  expect_error(run_cli({"train", "--data", empty.string(), "--quiet"}),
               empty.string() + ": the file is empty");
}

// Ids must be UTF-8 text without NUL bytes: a Latin-1 data file is refused
// with the line, not stored as bytes no JSON answer or Python str can hold.
TEST_F(CliErrors, FilesOfTheWrongKindSayWhatTheyAre) {
  // A NumPy array given as a model, a model given as data, and the other
  // formats people mix up: the message says what the file is.
  const auto npy = (dir_ / "scores.npy").string();
  ASSERT_EQ(run_cli({"scores", model_, "--out", npy}).exit_code, 0);
  expect_error(run_cli({"info", npy}),
               npy + ": this is a NumPy .npy file, not a latent model file");
  expect_error(run_cli({"recommend", npy, "--user", "1"}), "this is a NumPy .npy file");
  expect_error(run_cli({"train", "--data", model_, "--quiet"}),
               model_ + ": this is a latent model file, not a text file of rows (CSV, TSV)");
  expect_error(run_cli({"train", "--data", npy, "--quiet"}), "this is a NumPy .npy file, not a");
  expect_error(run_cli({"info", csv_}),
               csv_ + ": this is text (CSV, JSON, ...), not a latent model");

  // Data files are decompressed (gzip is a data format), model files are not.
  const auto gz = (dir_ / "ratings.csv.gz").string();
  write(gz, std::string("\x1f\x8b\x08\x00", 4) + "compressed");
  expect_error(run_cli({"train", "--data", gz, "--quiet"}),
               gz + ": truncated gzip data: the file ends at byte 14");
  expect_error(run_cli({"info", gz}), "this is a gzip-compressed file, not a latent model file");

  const auto utf16 = (dir_ / "utf16.csv").string();
  write(utf16, std::string("\xff\xfeu\0s\0e\0r\0", 10));
  expect_error(run_cli({"train", "--data", utf16, "--quiet"}), "iconv -f UTF-16 -t UTF-8");

  const auto binary = (dir_ / "random.bin").string();
  std::string noise;
  for (int i = 0; i < 256; ++i) noise.push_back(static_cast<char>((i * 73 + 11) % 256));
  write(binary, noise);
  expect_error(run_cli({"info", binary}), "this is binary data of an unknown kind");
}

TEST_F(CliErrors, DataIdsThatAreNotUtf8Text) {
  const auto latin1 = dir_ / "latin1.csv";
  write(latin1, "user,item\n1,abc\n2,No\xebl (2004)\n");
  const auto out = dir_ / "never.latent";
  expect_error(
      run_cli({"train", "--data", latin1.string(), "--out", out.string(), "--quiet"}),
      latin1.string() +
          ": line 3: item id \"No\\xEBl (2004)\" is not valid UTF-8 (byte 0xEB at offset 2)");
  const auto nul = dir_ / "nul.csv";
  write(nul, std::string("user,item\n1,a\0b\n", 17));
  expect_error(run_cli({"train", "--data", nul.string(), "--out", out.string(), "--quiet"}),
               nul.string() + ": line 2: item id \"a\\x00b\" holds a NUL byte at offset 1");
  EXPECT_FALSE(std::filesystem::exists(out));
}

// Ids reach latent exactly as typed: CLI11 would read "[A,B]" as a list.
TEST_F(CliErrors, IdsInBracketsAreKeptAsTyped) {
  expect_error(run_cli({"recommend", model_, "--user", "[UNK]"}), "unknown user id \"[UNK]\"");
  expect_error(run_cli({"recommend", model_, "--user", "[1,2]"}), "unknown user id \"[1,2]\"");
  expect_error(run_cli({"recommend", model_, "--items", "[10]"}), "\"[10]\"");
}

// A mistyped flag or command: exit 1 and the nearest real one, even when the
// parser would first complain about something else (--data missing).
TEST_F(CliErrors, UnknownFlagOrCommandSuggestsTheNearest) {
  auto r = run_cli({"train", "--epoch", "3"});
  expect_error(r, "unknown option --epoch; did you mean --epochs?");
  EXPECT_EQ(r.exit_code, 1);
  r = run_cli({"trian"});
  expect_error(r, "unknown command \"trian\"; did you mean train?");
  EXPECT_EQ(r.exit_code, 1);
  expect_error(run_cli({"recommend", model_, "--kk=3"}), "unknown option --kk; did you mean --k?");
  expect_error(run_cli({"frobnicate"}), "unknown command \"frobnicate\"; commands: train,");
}

// Training without --out says the model is gone, even with --quiet.
TEST_F(CliErrors, TrainWithoutOutWarns) {
  auto r = run_cli({"train", "--data", csv_, "--epochs", "1", "--quiet"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "latent: warning: the model was not saved; give --out FILE to keep it\n");
  // Metrics were asked for: the run has its output.
  r = run_cli({"train", "--data", csv_, "--epochs", "1", "--quiet", "--metrics-out",
               (dir_ / "m.json").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
}

// Popularity ranks every item the same for everyone: no item similarity.
TEST_F(CliErrors, SimilarOnAPopularityModelIsRefused) {
  const auto top = dir_ / "top.latent";
  auto r =
      run_cli({"train", "--data", csv_, "--model", "popularity", "--out", top.string(), "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_error(run_cli({"similar", top.string(), "--item", "10"}),
               "a popularity model has no item similarity");
  expect_error(run_cli({"pairs", top.string()}), "a popularity model has no item similarity");
}

// A value out of the flag's range: one latent-style line, exit 1.
TEST_F(CliErrors, OutOfRangeFlagValue) {
  const auto r = run_cli({"recommend", model_, "--user", "1", "--k", "2147483648"});
  expect_error(r, "--k");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("2147483648"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.rfind("latent: error: ", 0), 0u) << r.err;
  expect_error(run_cli({"train", "--data", csv_, "--no-such-flag", "--quiet"}), "--no-such-flag");
  EXPECT_EQ(run_cli({"--help"}).exit_code, 0);
  EXPECT_EQ(run_cli({"--version"}).exit_code, 0);
}

TEST_F(CliErrors, EveryCommandHasHelp) {
  for (const char* cmd :
       {"train", "recommend", "similar", "pairs", "embeddings", "scores", "info", "quickstart"}) {
    auto r = run_cli({cmd, "--help"});
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << cmd << ": " << r.out;
  }
}

}  // namespace
}  // namespace latent::test
