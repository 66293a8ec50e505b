// End-to-end tests of `latent synth`: seeded, byte-identical output that
// `latent train` reads, and errors that name the value and leave no file.

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "e2e/cli_runner.hpp"

namespace latent::test {
namespace {

std::vector<std::string> synth_args(const std::string& out, const std::string& seed) {
  return {"synth", "--out",  out,   "--users",          "300", "--items", "200", "--pairs",
          "6000",  "--zipf", "1.1", "--activity-sigma", "1.2", "--seed",  seed};
}

TEST(CliSynth, SameArgumentsGiveIdenticalBytes) {
  TempDir dir;
  const auto a = (dir / "a.csv").string();
  const auto b = (dir / "b.csv").string();
  const auto c = (dir / "c.csv").string();
  auto ra = run_cli(synth_args(a, "5"));
  ASSERT_EQ(ra.exit_code, 0) << ra.err;
  EXPECT_NE(ra.out.find("6000 pairs"), std::string::npos) << ra.out;
  auto rb = run_cli(synth_args(b, "5"));
  ASSERT_EQ(rb.exit_code, 0) << rb.err;
  auto rc = run_cli(synth_args(c, "6"));
  ASSERT_EQ(rc.exit_code, 0) << rc.err;

  const std::string bytes = read_bytes(a);
  EXPECT_EQ(bytes, read_bytes(b));
  EXPECT_NE(bytes, read_bytes(c));
  const auto ls = lines(bytes);
  ASSERT_EQ(ls.size(), 6001u);
  EXPECT_EQ(ls[0], "user,item");
  EXPECT_EQ(ls[1].rfind("1,", 0), 0u) << ls[1];

  // The file is ordinary training data.
  auto train = run_cli({"train", "--data", a, "--model", "popularity", "--out",
                        (dir / "m.latent").string(), "--quiet"});
  ASSERT_EQ(train.exit_code, 0) << train.err;
  auto info = run_cli({"info", (dir / "m.latent").string()});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("users: 300 (+1 OOV row)"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("seen pairs: 6000"), std::string::npos) << info.out;
}

// --all-users ranks and writes the users a chunk of 8,192 at a time: more
// users than a chunk give the lines one --user query per user gives, each
// user once, in row order.
TEST(CliSynth, AllUsersAcrossChunksMatchOneUserAtATime) {
  TempDir dir;
  const auto csv = (dir / "d.csv").string();
  const auto model = (dir / "m.latent").string();
  ASSERT_EQ(run_cli({"synth", "--out", csv, "--users", "9000", "--items", "300", "--pairs", "40000",
                     "--seed", "3"})
                .exit_code,
            0);
  auto r = run_cli({"train", "--data", csv, "--model", "als", "--dim", "4", "--epochs", "2",
                    "--threads", "1", "--out", model, "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto all = (dir / "all.csv").string();
  r = run_cli({"recommend", model, "--all-users", "--k", "3", "--exclude-seen", "--out", all});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto ls = lines(read_bytes(all));
  ASSERT_EQ(ls.size(), 1u + 9000u * 3u);
  EXPECT_EQ(ls[0], "user,item,score,rank");
  // Users in row order: synth's ids 1.. are met in order, so row r is user r.
  EXPECT_EQ(ls[1].rfind("1,", 0), 0u) << ls[1];
  EXPECT_EQ(ls[8192 * 3 + 1].rfind("8193,", 0), 0u) << ls[8192 * 3 + 1];
  for (const char* user : {"1", "8192", "8193", "9000"}) {
    r = run_cli({"recommend", model, "--user", user, "--k", "3", "--exclude-seen"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto one = lines(r.out);
    ASSERT_EQ(one.size(), 4u) << r.out;
    const std::size_t first = std::stoul(user) * 3 - 2;
    for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(ls[first + i], one[1 + i]) << user;
  }
}

TEST(CliSynth, BadValuesAreNamedAndLeaveNoFile) {
  TempDir dir;
  const auto out = (dir / "x.csv").string();
  auto r = run_cli({"synth", "--out", out, "--users", "100", "--items", "10", "--pairs", "50"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("pairs 50"), std::string::npos) << r.err;
  auto z = run_cli(
      {"synth", "--out", out, "--users", "10", "--items", "10", "--pairs", "50", "--zipf", "-1"});
  EXPECT_EQ(z.exit_code, 1);
  EXPECT_NE(z.err.find("zipf -1"), std::string::npos) << z.err;
  EXPECT_FALSE(std::filesystem::exists(out));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

}  // namespace
}  // namespace latent::test
