#pragma once
// How messages name a file that is not a regular one, for the readers and
// writers that refuse such files.

#include <sys/stat.h>

namespace latent::detail {

// "is a directory", "is a character device", ... for the st_mode of
// anything but a regular file.
inline const char* what_file_is(mode_t mode) noexcept {
  if (S_ISDIR(mode)) return "is a directory";
  if (S_ISCHR(mode)) return "is a character device";
  if (S_ISBLK(mode)) return "is a block device";
  if (S_ISFIFO(mode)) return "is a FIFO";
  if (S_ISSOCK(mode)) return "is a socket";
  if (S_ISLNK(mode)) return "is a symbolic link";
  return "is not a regular file";
}

}  // namespace latent::detail
