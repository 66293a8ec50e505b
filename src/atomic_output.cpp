#include <latent/atomic_output.hpp>

#include <signal.h>
#include <unistd.h>

#include <system_error>

#include <utility>

#include <fmt/format.h>

#include <latent/error.hpp>

#include "detail/atomic_file.hpp"

namespace latent {

AtomicOutput::AtomicOutput(const std::filesystem::path& target) : target_(target) {
  auto temp = detail::create_temp_beside(target_);
  file_ = temp.file;
  tmp_ = std::move(temp.path);
  dest_ = std::move(temp.dest);
}

AtomicOutput::~AtomicOutput() {
  if (!tmp_.empty()) detail::discard_temp(file_, tmp_);
}

void AtomicOutput::commit() {
  const bool ok = file_ != nullptr && !std::ferror(file_);
  if (!ok) {
    detail::discard_temp(file_, tmp_);
    tmp_.clear();
    detail::throw_io(target_, "write failed", EIO);
  }
  detail::commit_temp(file_, tmp_, target_, dest_);
  tmp_.clear();  // now the target's name; the destructor must not unlink it
}

OutputDirectory::OutputDirectory(const std::filesystem::path& dir) : dir_(dir) {
  // The levels that do not exist yet, innermost first.
  for (std::filesystem::path p = dir_; !p.empty() && p != p.root_path(); p = p.parent_path()) {
    std::error_code ec;
    if (std::filesystem::symlink_status(p, ec).type() != std::filesystem::file_type::not_found) {
      break;
    }
    created_.push_back(p);
  }
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (!ec && !std::filesystem::is_directory(dir_, ec))
    ec = std::make_error_code(std::errc::not_a_directory);
  if (ec) {
    created_.clear();
    throw Error(ErrorKind::IO,
                fmt::format("{}: cannot create directory: {}", dir_.string(), ec.message()));
  }
}

OutputDirectory::~OutputDirectory() {
  for (const auto& p : created_) {
    if (::rmdir(p.c_str()) != 0) break;  // not empty (or gone): keep it and its parents
  }
}

namespace {

void on_fatal_signal(int sig) {
  // Only async-signal-safe calls: atomics, unlink, signal, raise.
  detail::unlink_listed_temps();
  ::signal(sig, SIG_DFL);
  ::raise(sig);  // delivered when the handler returns: the default action
}

}  // namespace

void remove_temp_files_on_signal() {
  struct sigaction action {};
  action.sa_handler = on_fatal_signal;
  ::sigemptyset(&action.sa_mask);
  for (const int sig : {SIGINT, SIGTERM}) {
    struct sigaction old {};
    // A signal the caller's parent ignores (nohup, a shell's background job)
    // stays ignored.
    if (::sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) continue;
    ::sigaction(sig, &action, nullptr);
  }
  // A write beyond the file-size limit (ulimit -f) fails with EFBIG, which
  // is reported like a full disk, instead of killing the process mid-write.
  ::signal(SIGXFSZ, SIG_IGN);
}

}  // namespace latent
