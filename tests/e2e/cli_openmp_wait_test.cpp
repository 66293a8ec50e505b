// The CLI's OpenMP threads spin briefly, then sleep (include/latent/openmp_wait.hpp),
// unless the user chose otherwise. libgomp prints the settings it runs with
// when OMP_DISPLAY_ENV is set; the last block printed is the program's own
// (the first comes from the process before it re-executes itself).

#include <gtest/gtest.h>

#include <string>

#include <latent/openmp_wait.hpp>

#include "e2e/cli_runner.hpp"

namespace latent::test {
namespace {

std::string last_setting(const std::string& err, const std::string& name) {
  const auto at = err.rfind("  " + name + " = '");
  if (at == std::string::npos) return "(not printed)";
  const auto start = at + name.size() + 6;
  return err.substr(start, err.find('\'', start) - start);
}

TEST(CliOpenMpWait, ThreadsSpinBrieflyThenSleepByDefault) {
  const auto r =
      run_cli({"--version"}, "env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT OMP_DISPLAY_ENV=verbose ");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(last_setting(r.err, "GOMP_SPINCOUNT"), kSpinCount) << r.err;
  // The version is printed once: the first process replaced itself.
  ASSERT_EQ(lines(r.out).size(), 1u) << r.out;
  EXPECT_EQ(r.out.rfind("latent ", 0), 0u) << r.out;
}

TEST(CliOpenMpWait, TheUsersChoiceWins) {
  auto r = run_cli({"--version"},
                   "env -u GOMP_SPINCOUNT OMP_WAIT_POLICY=active OMP_DISPLAY_ENV=verbose ");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(last_setting(r.err, "OMP_WAIT_POLICY"), "ACTIVE") << r.err;

  r = run_cli({"--version"}, "env -u OMP_WAIT_POLICY GOMP_SPINCOUNT=1234 OMP_DISPLAY_ENV=verbose ");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(last_setting(r.err, "GOMP_SPINCOUNT"), "1234") << r.err;
}

TEST(CliOpenMpWait, ArgumentsSurviveTheReExecution) {
  // A path with spaces and quotes reaches the re-executed program as typed.
  const std::string path = "/nonexistent/a 'b' \"c\".latent";
  const auto r = run_cli({"info", path}, "env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT ");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(path), std::string::npos) << r.err;
}

}  // namespace
}  // namespace latent::test
