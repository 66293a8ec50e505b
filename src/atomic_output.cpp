#include <latent/atomic_output.hpp>

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

}  // namespace latent
