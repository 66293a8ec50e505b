// Fuzz target: the model-file reader (load_model) and what a loaded model
// promises to the server (Recommender: recommend, similar items, fold-in).
//
// Input: a model file. Random bytes would only ever meet the checksums, so
// before the file is written the target signs it the way save_model does:
// the "checksum" metadata becomes the XXH64 of the data section, then the
// "header_checksum" that of the header text with its own digits as '0'
// (where those fields are in place, 16 characters long). Mutations thus
// reach the header, metadata, tensor table and array checks behind them.
// latent::Error is the documented failure; anything else is a finding.

#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include <latent/error.hpp>
#include <latent/model_file.hpp>
#include <latent/recommender.hpp>

#include "fuzz/fuzz_support.hpp"

namespace {

constexpr std::size_t kDigits = 16;

// Overwrites the 16 characters after the one occurrence of `needle` in the
// header (bytes [8, 8 + n) of `file`) with `digest` in hex; false when the
// needle is missing or its digits do not fit in the header.
bool sign(std::string& file, std::size_t n, std::string_view needle, std::uint64_t digest) {
  const std::string_view header = std::string_view(file).substr(8, n);
  const auto at = header.find(needle);
  if (at == std::string_view::npos || at + needle.size() + kDigits > header.size()) return false;
  const std::string hex = fmt::format("{:016x}", digest);
  file.replace(8 + at + needle.size(), kDigits, hex);
  return true;
}

std::string signed_file(std::string file) {
  if (file.size() < 8) return file;
  std::uint64_t n = 0;
  std::memcpy(&n, file.data(), 8);
  if (n > file.size() - 8) return file;
  const std::string_view data = std::string_view(file).substr(8 + n);
  sign(file, n, R"("checksum":")", XXH64(data.data(), data.size(), 0));
  constexpr std::string_view kHeaderNeedle = R"("header_checksum":")";
  if (sign(file, n, kHeaderNeedle, 0)) {
    const std::uint64_t digest =
        XXH64(file.data() + 8, n, 0);  // with the digits still '0' (0 in hex)
    sign(file, n, kHeaderNeedle, digest);
  }
  return file;
}

void use(const latent::Recommender& model) {
  using latent::fuzz::check;
  const auto users = model.known_user_rows();
  const std::int32_t items = model.model().items.size();
  if (!users.empty()) {
    const std::vector<std::int32_t> one = {users.front()};
    const latent::TopK top = model.recommend(one, 3, /*exclude_seen=*/true, /*threads=*/1);
    for (const std::int32_t item : top.items)
      check(item >= -1 && item < items, "item rows in range");
  }
  if (items > 1) {
    const latent::TopK similar = model.similar_items(1, 3, /*threads=*/1);
    for (const std::int32_t item : similar.items)
      check(item >= -1 && item < items, "item rows in range");
    const std::vector<std::int32_t> seen = {1};
    latent::RecommendOptions options;
    options.k = 3;
    options.threads = 1;
    model.recommend_for_items(seen, options);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = latent::fuzz::scratch_dir() / "model.latent";
  latent::fuzz::write_file(path, signed_file(std::string(latent::fuzz::as_text(data, size))));
  try {
    use(latent::Recommender(latent::load_model(path)));
  } catch (const latent::Error& e) {
    // The documented failure: a message naming the file and what is wrong.
    latent::fuzz::expected(e);
  }
  return 0;
}
