// Fuzz target: the approximate index's file reader (HnswIndex::load) and
// what a loaded index promises to a search (item rows in range, filters kept).
//
// Input: an index file. Random bytes would only ever meet the checksum and
// the item-vector hash, so before the file is written the target makes both
// right for its fixed items: the header's items hash becomes theirs and the
// trailing checksum that of the bytes before it. Mutations thus reach the
// size, level and link checks behind them. latent::Error is the documented
// failure; anything else is a finding.

#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <latent/error.hpp>
#include <latent/hnsw_index.hpp>

#include "fuzz/fuzz_support.hpp"

namespace {

// The items every input is an index of: 40 rows (row 0 the OOV row) of 4
// values from a fixed sequence. The seed corpus was written for them.
const latent::Matrix& items() {
  static const latent::Matrix m = [] {
    latent::Matrix out(40, 4);
    std::uint32_t x = 12345;
    for (std::int64_t r = 1; r < out.rows(); ++r) {
      for (float& v : out.row(r)) {
        x = x * 1664525u + 1013904223u;
        v = static_cast<float>(x >> 8) / static_cast<float>(1u << 24) - 0.5f;
      }
    }
    return out;
  }();
  return m;
}

constexpr std::size_t kItemsHashAt = 40;  // offset of the header's items hash

std::string signed_file(std::string file) {
  if (file.size() >= kItemsHashAt + 8) {
    const std::uint64_t hash =
        XXH64(items().data(), static_cast<std::size_t>(items().size()) * sizeof(float), 0);
    std::memcpy(file.data() + kItemsHashAt, &hash, 8);
  }
  if (file.size() >= 8) {
    const std::uint64_t sum = XXH64(file.data(), file.size() - 8, 0);
    std::memcpy(file.data() + file.size() - 8, &sum, 8);
  }
  return file;
}

void use(const latent::HnswIndex& index) {
  using latent::fuzz::check;
  latent::Matrix queries(2, 4, {0.3f, -0.2f, 0.1f, 0.4f, -0.5f, 0.5f, 0.0f, 0.2f});
  const std::vector<std::int32_t> excluded{0, 3, 5};
  latent::SearchOptions options;
  options.k = 5;
  options.exclude_items = excluded;
  options.threads = 1;
  for (const int ef : {0, 1, 100}) {
    options.ef = ef;
    const latent::TopK top = index.search(items(), queries, options);
    for (const std::int32_t item : top.items) {
      check(item >= -1 && item < items().rows(), "item rows in range");
      check(item != 0 && item != 3 && item != 5, "excluded items never returned");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = latent::fuzz::scratch_dir() / "model.latent.index";
  latent::fuzz::write_file(path, signed_file(std::string(latent::fuzz::as_text(data, size))));
  try {
    use(*latent::HnswIndex::load(path, items()));
  } catch (const latent::Error& e) {
    latent::fuzz::expected(e);
  }
  return 0;
}
