#pragma once
// Writing an output file atomically, for front ends that write with stdio:
// a temporary file beside the target, fsync, rename. A symlink target is
// followed (the file it leads to is replaced, the link kept); a device,
// FIFO, socket or directory is refused. Every file the library saves is
// written the same way.

#include <cstdio>
#include <filesystem>
#include <vector>

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

// A directory for several output files (each written as AtomicOutput is):
// made with its missing parents, and removed again (those levels this
// object made, and only while empty) when it is destroyed before commit(),
// so a command that fails leaves no empty folder behind. Throws Error(IO)
// naming `dir` when it cannot be made or is not a directory.
class OutputDirectory {
 public:
  explicit OutputDirectory(const std::filesystem::path& dir);
  ~OutputDirectory();
  OutputDirectory(const OutputDirectory&) = delete;
  OutputDirectory& operator=(const OutputDirectory&) = delete;

  const std::filesystem::path& path() const noexcept { return dir_; }
  // Every file is written: keep the directory.
  void commit() noexcept { created_.clear(); }

 private:
  std::filesystem::path dir_;
  std::vector<std::filesystem::path> created_;  // innermost first
};

// Installs SIGINT and SIGTERM handlers that unlink the temporary files of
// every write in progress (AtomicOutput, saved models, .npy and CSV files)
// and then die of the signal as by default, and ignores SIGXFSZ so that a
// write past the file-size limit fails (EFBIG) and is reported as an error
// naming the file, as a full disk is. For programs: a library must not take
// over signals. Files left by SIGKILL are removed by the next write to
// their directory.
void remove_temp_files_on_signal();

}  // namespace latent
