#pragma once
// The CLI running `latent serve ARGS` as a child process, stdout and stderr
// in one file; optionally under a lower open-file limit (started as
// `sh -c 'ulimit -n LIMIT && exec latent serve ...'`).

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "server/server_fixture.hpp"

extern char** environ;

namespace latent::test {

class ServeProcess {
 public:
  // fd_limit 0: the test's own limit.
  ServeProcess(const TempDir& dir, const std::vector<std::string>& args, int fd_limit = 0)
      : out_(dir / "serve.out") {
    std::vector<std::string> argv{cli_path().string(), "serve"};
    argv.insert(argv.end(), args.begin(), args.end());
    if (fd_limit > 0) {
      std::string command = fmt::format("ulimit -n {} && exec", fd_limit);
      for (const auto& a : argv) command += " '" + a + "'";
      argv = {"/bin/sh", "-c", command};
    }
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    const int rc = posix_spawn(&pid_, cargv[0], &actions, nullptr, cargv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) pid_ = -1;
  }
  ~ServeProcess() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      wait_exit();
    }
  }
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  pid_t pid() const { return pid_; }
  std::string output() const { return read_bytes(out_); }
  // How often `text` occurs in the output.
  int count(const std::string& text) const {
    const std::string all = output();
    int n = 0;
    for (auto at = all.find(text); at != std::string::npos; at = all.find(text, at + 1)) ++n;
    return n;
  }
  // The port printed at start, or 0 if it never started.
  int port() const {
    int port = 0;
    eventually([&] {
      std::smatch m;
      const std::string text = output();
      if (std::regex_search(text, m, std::regex("listening on 127\\.0\\.0\\.1:([0-9]+)")))
        port = std::stoi(m[1]);
      return port != 0;
    });
    return port;
  }
  int wait_exit() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    exited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  std::filesystem::path out_;
  pid_t pid_ = -1;
  bool exited_ = false;
};

}  // namespace latent::test
