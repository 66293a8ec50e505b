#include <latent/atomic_output.hpp>

#include <signal.h>

#include <utility>

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
}

}  // namespace latent
