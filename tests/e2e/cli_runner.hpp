#pragma once
// Runs the real `latent` binary as a user would, capturing exit code,
// stdout and stderr.

#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace latent::test {

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string shell_quote(const std::string& s) {
  // Single quotes, with each embedded quote closed, escaped and reopened.
  std::string q(1, '\'');
  for (char c : s) {
    if (c == '\'') {
      q.append({'\'', '\\', '\'', '\''});
    } else {
      q.push_back(c);
    }
  }
  q.push_back('\'');
  return q;
}

inline std::string slurp(const std::filesystem::path& p) { return read_bytes(p); }

// `shell_prefix` runs in the same shell first: "ulimit -f 64; " limits the
// size of every file the command writes (how the tests fill a disk).
inline CliResult run_cli(const std::vector<std::string>& args,
                         const std::string& shell_prefix = "") {
  static int counter = 0;
  const auto base = std::filesystem::temp_directory_path() /
                    ("latent-cli-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  std::string cmd = shell_prefix + shell_quote(cli_path().string());
  for (const auto& a : args) {
    cmd.push_back(' ');
    cmd.append(shell_quote(a));
  }
  cmd.append(" >").append(shell_quote(base.string() + ".out"));
  cmd.append(" 2>").append(shell_quote(base.string() + ".err"));
  CliResult r;
  const int status = std::system(cmd.c_str());
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(base.string() + ".out");
  r.err = slurp(base.string() + ".err");
  std::filesystem::remove(base.string() + ".out");
  std::filesystem::remove(base.string() + ".err");
  return r;
}

inline std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

}  // namespace latent::test
