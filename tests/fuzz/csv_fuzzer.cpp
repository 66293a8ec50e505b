// Fuzz target: the data loaders (load_dataset) over every layout they read:
// a CSV or TSV file with or without a header and an --items metadata file,
// and the MovieLens directories (ml-100k u.data + u.item, ml-latest
// ratings.csv + movies.csv), with the rating filter and items by title.
//
// Input: one option byte, then the interactions text, then optionally
// "\n--items--\n" and the item metadata text:
//   bits 0-1  layout: 0 data.csv, 1 data.tsv, 2 ml-100k dir, 3 ml-latest dir
//   bit 2     CSV/TSV: the file has a header
//   bit 3     keep rating > 3 only
//   bit 4     items keyed by title (needs item metadata)
//   bit 5     CSV/TSV: an items file (items.csv) is given
//   bit 6     CSV/TSV: columns named by number ("0", "1", "2", "3")
//   bit 7     CSV/TSV: a weight column "weight" (by name) / 4 (by number)
// latent::Error is the documented failure; anything else is a finding.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include <latent/dataset.hpp>
#include <latent/error.hpp>

#include "fuzz/fuzz_support.hpp"

namespace {

namespace fs = std::filesystem;
using latent::fuzz::scratch_dir;
using latent::fuzz::write_file;

latent::LoadOptions options_for(std::uint8_t flags, std::string_view data, std::string_view items) {
  latent::LoadOptions o;
  const fs::path& dir = scratch_dir();
  switch (flags & 3) {
    case 0:
    case 1: {
      o.data = dir / ((flags & 3) == 0 ? "data.csv" : "data.tsv");
      o.format = latent::DataFormat::Csv;
      write_file(o.data, data);
      o.header = (flags & 4) != 0;
      if (flags & 32) {
        o.items_file = dir / "items.csv";
        write_file(o.items_file, items);
      }
      if (flags & 64) {
        o.user_col = std::string("0");
        o.item_col = std::string("1");
        o.rating_col = std::string("2");
        o.timestamp_col = std::string("3");
        if (flags & 128) o.weight_col = std::string("4");
      } else if (flags & 128) {
        o.weight_col = std::string("weight");
      }
      break;
    }
    case 2:
      o.data = dir / "ml-100k";
      o.format = latent::DataFormat::MovieLens100K;
      fs::create_directories(o.data);
      write_file(o.data / "u.data", data);
      write_file(o.data / "u.item", items);
      break;
    default:
      o.data = dir / "ml-latest";
      o.format = latent::DataFormat::MovieLensLatest;
      fs::create_directories(o.data);
      write_file(o.data / "ratings.csv", data);
      write_file(o.data / "movies.csv", items);
      break;
  }
  if (flags & 8) o.rating_above = 3.0;
  if (flags & 16) o.item_key = latent::ItemKey::Title;
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto [interactions, items] =
      latent::fuzz::split_once(latent::fuzz::as_text(data + 1, size - 1), "\n--items--\n");
  try {
    const latent::LoadOptions options = options_for(data[0], interactions, items);
    const latent::Dataset d = latent::load_dataset(options);
    // What every loaded dataset promises (dataset.hpp): rows of the
    // vocabularies, titles for every item row when metadata was joined.
    using latent::fuzz::check;
    const auto& in = d.interactions;
    check(!in.empty() && in.users.size() == in.items.size(),
          "rows are kept, users and items parallel");
    check(in.num_users == d.users.size() && in.num_items == d.items.size(),
          "sizes match the vocabularies");
    for (std::size_t i = 0; i < in.size(); ++i) {
      check(in.users[i] >= 1 && in.users[i] < d.users.size(), "user rows are known rows");
      check(in.items[i] >= 1 && in.items[i] < d.items.size(), "item rows are known rows");
    }
    check(d.item_titles.empty() || d.item_titles.size() == static_cast<std::size_t>(d.items.size()),
          "a title for every item row");
  } catch (const latent::Error& e) {
    // The documented failure: a message naming the file and line.
    latent::fuzz::expected(e);
  }
  return 0;
}
