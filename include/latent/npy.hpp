#pragma once
// Writers for numpy's .npy format (version 1.0, little-endian float32,
// C order), readable by numpy.load. NpyWriter streams rows so a score matrix
// larger than memory can be written block by block.

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <span>

#include <latent/matrix.hpp>

namespace latent {

class NpyWriter {
 public:
  // Writes to a temporary file beside `path` (beside the file it leads to, for
  // a symlink); finish() renames it into place. Throws InvalidArgument when
  // `path` is a device, FIFO, socket or directory.
  NpyWriter(const std::filesystem::path& path, std::int64_t rows, std::int64_t cols);
  ~NpyWriter();  // removes the temporary file unless finish() succeeded
  NpyWriter(const NpyWriter&) = delete;
  NpyWriter& operator=(const NpyWriter&) = delete;

  // Appends whole rows: values.size() must be a multiple of cols.
  void write_rows(std::span<const float> values);
  // Checks that rows x cols values were written, flushes and renames.
  void finish();

 private:
  std::filesystem::path path_;
  std::filesystem::path dest_;  // path_, or the file a symlink there leads to
  std::filesystem::path tmp_;
  std::FILE* file_ = nullptr;
  std::int64_t rows_;
  std::int64_t cols_;
  std::int64_t written_ = 0;
};

void write_npy(const std::filesystem::path& path, const Matrix& m);

// Reads a float32 C-order 2-D .npy (for tests and tools).
Matrix read_npy(const std::filesystem::path& path);

}  // namespace latent
