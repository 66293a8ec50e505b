// Fuzz target: the data loaders (load_dataset) over every layout they read:
// a CSV or TSV file with or without a header and an --items metadata file,
// the MovieLens directories (ml-100k u.data + u.item, ml-latest
// ratings.csv + movies.csv), with the rating filter and items by title, and
// user-lines files, alone or as a training and a test file
// (load_train_test). Any file whose bytes start with 1f 8b is gzip
// (decompressed as it is read), so gzip seeds reach zlib and every parser.
//
// Input: one option byte, then the interactions text, then optionally
// "\n--items--\n" and a second text (the item metadata, or a test file):
//   bits 0-1  layout: 0 data.csv, 1 data.tsv, 2 ml-100k dir, 3 ml-latest dir
//   bit 2     CSV/TSV: the file has a header
//   bit 3     keep rating > 3 only
//   bit 4     items keyed by title (needs item metadata)
//   bit 5     CSV/TSV: an items file (items.csv) is given
//   bit 6     CSV/TSV: columns named by number ("0", "1", "2", "3"), and
//             column 3 kept as a context column too (its text)
//   bit 7     CSV/TSV: a weight column "weight" (by name) / 4 (by number)
// Layouts 0 and 1 with bit 4 set and bit 5 clear (items by title without
// an items file, an error before any byte is read) are user-lines instead:
//   bit 0     the file is data.txt.gz (else data.txt)
//   bit 3     keep rating > 3 only (an error: user-lines have no ratings)
//   bit 6     the second text is an items file (items.csv)
//   bit 7     the second text is a test file (test.txt) for load_train_test;
//             with bit 6, items keyed by title instead
// latent::Error is the documented failure; anything else is a finding. The
// chunked CSV reader is checked against itself: load_dataset with tiny
// chunks on 2 threads must give the same data set, or the same error, as one
// chunk on one thread.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <latent/dataset.hpp>
#include <latent/error.hpp>

#include "fuzz/fuzz_support.hpp"

namespace {

namespace fs = std::filesystem;
using latent::fuzz::scratch_dir;
using latent::fuzz::write_file;

bool is_user_lines(std::uint8_t flags) { return (flags & 2) == 0 && (flags & 48) == 16; }
// user-lines with a test file, read by load_train_test.
bool with_test_file(std::uint8_t flags) { return is_user_lines(flags) && (flags & 192) == 128; }

latent::LoadOptions user_lines_options(std::uint8_t flags, std::string_view data,
                                       std::string_view second) {
  latent::LoadOptions o;
  const fs::path& dir = scratch_dir();
  o.data = dir / ((flags & 1) != 0 ? "data.txt.gz" : "data.txt");
  o.format = latent::DataFormat::UserLines;
  write_file(o.data, data);
  if (flags & 64) {
    o.items_file = dir / "items.csv";
    write_file(o.items_file, second);
    if (flags & 128) o.item_key = latent::ItemKey::Title;
  } else if (flags & 128) {
    write_file(dir / "test.txt", second);
  }
  if (flags & 8) o.rating_above = 3.0;
  return o;
}

latent::LoadOptions options_for(std::uint8_t flags, std::string_view data, std::string_view items) {
  if (is_user_lines(flags)) return user_lines_options(flags, data, items);
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
        o.context_cols = {std::string("3")};
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

// Everything a load decides, as one string: the data set's vocabularies,
// arrays and counts, or the error's message.
std::string outcome(latent::LoadOptions options, std::size_t chunk_bytes, int threads) {
  options.chunk_bytes = chunk_bytes;
  options.threads = threads;
  try {
    const latent::Dataset d = latent::load_dataset(options);
    std::string out;
    for (const latent::Vocabulary* v : {&d.users, &d.items}) {
      for (const std::string& id : v->ids()) out += id + '\x1f';
      out += '\x1e';
    }
    const auto add = [&](const auto& values) {
      out.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(values[0]));
      out += '\x1e';
    };
    for (const latent::Interactions* x : {&d.interactions, &d.seen_only}) {
      add(x->users);
      add(x->items);
      add(x->ratings);
      add(x->timestamps);
      add(x->weights);
      for (const latent::ContextColumn& c : x->context) {
        out += c.name + '\x1d';
        for (const std::string& v : c.values) out += v + '\x1f';
        out += '\x1e';
      }
    }
    for (const std::string& title : d.item_titles) out += title + '\x1f';
    return out + std::to_string(d.rows_read);
  } catch (const latent::Error& e) {
    return std::string("error: ") + e.what();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto [interactions, items] =
      latent::fuzz::split_once(latent::fuzz::as_text(data + 1, size - 1), "\n--items--\n");
  try {
    const latent::LoadOptions options = options_for(data[0], interactions, items);
    using latent::fuzz::check;
    latent::Dataset d;
    if (with_test_file(data[0])) {
      latent::TrainTestData both = latent::load_train_test(options, scratch_dir() / "test.txt");
      // What load_train_test promises: the split is the data's rows, train
      // first, and every test user has training rows.
      const latent::Split& s = both.split;
      check(s.train.size() + s.test.size() == both.data.interactions.size() && !s.test.empty(),
            "the split holds every row once, with test rows");
      check(
          s.train.num_users == both.data.users.size() && s.test.num_items == both.data.items.size(),
          "the split is on the data's vocabularies");
      std::vector<char> trained(static_cast<std::size_t>(both.data.users.size()), 0);
      for (const std::int32_t u : s.train.users) trained[static_cast<std::size_t>(u)] = 1;
      for (const std::int32_t u : s.test.users) {
        check(u >= 1 && u < both.data.users.size() && trained[static_cast<std::size_t>(u)] != 0,
              "every test user has training rows");
      }
      d = std::move(both.data);
    } else {
      const std::size_t chunk = 1 + size % 13;
      check(outcome(options, std::size_t{1} << 30, 1) == outcome(options, chunk, 2),
            "tiny chunks on 2 threads load what one chunk on one thread loads");
      d = latent::load_dataset(options);
    }
    // What every loaded dataset promises (dataset.hpp): rows of the
    // vocabularies, titles for every item row when metadata was joined.
    const auto& in = d.interactions;
    check(!in.empty() && in.users.size() == in.items.size(),
          "rows are kept, users and items parallel");
    check(in.num_users == d.users.size() && in.num_items == d.items.size(),
          "sizes match the vocabularies");
    check(in.context.size() == options.context_cols.size(), "every context column is kept");
    for (const latent::ContextColumn& c : in.context) {
      check(c.values.size() == in.size(), "a context value for every row");
    }
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
