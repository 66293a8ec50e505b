#pragma once
// Writing an output file atomically, for front ends that write with stdio:
// a temporary file beside the target, fsync, rename. A symlink target is
// followed (the file it leads to is replaced, the link kept); a device,
// FIFO, socket or directory is refused. Every file the library saves is
// written the same way.

#include <cstdio>
#include <filesystem>

namespace latent {

class AtomicOutput {
 public:
  // Creates the temporary file. Throws Error: InvalidArgument when `target`
  // (or what a symlink there leads to) is not a regular file, IO when the
  // temporary file cannot be made.
  explicit AtomicOutput(const std::filesystem::path& target);
  // Discards the temporary file unless commit() succeeded.
  ~AtomicOutput();
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;

  // The temporary file, open for writing; null after commit().
  std::FILE* file() const noexcept { return file_; }
  // Flushes, checks for write errors, fsyncs and renames into place.
  // Throws Error(IO) naming the target; the temporary file is gone either way.
  void commit();

 private:
  std::filesystem::path target_;
  std::filesystem::path dest_;
  std::filesystem::path tmp_;
  std::FILE* file_ = nullptr;
};

// Installs SIGINT and SIGTERM handlers that unlink the temporary files of
// every write in progress (AtomicOutput, saved models, .npy and CSV files)
// and then die of the signal as by default. For programs: a library must not
// take over signals. Files left by SIGKILL are removed by the next write to
// their directory.
void remove_temp_files_on_signal();

}  // namespace latent
