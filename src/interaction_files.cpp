#include "detail/interaction_files.hpp"

#include <omp.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

#include <fmt/format.h>

#include <latent/dataset.hpp>
#include <latent/error.hpp>

#include "detail/parallel.hpp"
#include "detail/text_chunks.hpp"

namespace latent::detail {

namespace fs = std::filesystem;

namespace {

// Measured at 10M rows on 2 threads (bench/loader_bench.py): 2 MiB parses
// faster than 16 MiB (0.43 s against 0.57-0.70 s; the chunk stays in cache)
// and holds less memory, and smaller chunks add merge work.
constexpr std::size_t kDefaultChunkBytes = std::size_t{2} << 20;

// A file's columns, resolved from its first record.
struct FileColumns {
  CsvLayout layout;
  CsvColumn user, item;
  std::optional<CsvColumn> rating, timestamp, weight;
  std::vector<CsvColumn> context;  // InteractionFiles::context_cols, in order
};

FileColumns resolve_columns(const CsvTable& table, const InteractionFiles& in) {
  FileColumns c;
  c.layout = table.layout();
  c.user = required_column(table, in.user_col, "user", default_column_names("user"), 0);
  c.item = required_column(table, in.item_col, "item", default_column_names("item"), 1);
  c.rating = optional_column(table, in.rating_col, "rating", default_column_names("rating"));
  if (!c.rating && in.rating_col.empty() && !table.has_header() && table.field_count() >= 3) {
    c.rating = table.column(std::size_t{2}, "rating");
  }
  c.timestamp =
      optional_column(table, in.timestamp_col, "timestamp", default_column_names("timestamp"));
  c.weight = optional_column(table, in.weight_col, "weight", default_column_names("weight"));
  for (const std::string& ref : in.context_cols) c.context.push_back(table.column(ref, "context"));
  if (in.rating_above && !c.rating) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("{}: filtering on rating > {} needs ratings, but the file has no "
                            "rating column (name one with the rating column option)",
                            table.reader().path().string(), *in.rating_above));
  }
  return c;
}

// Which of the optional columns a file has: all-or-nothing in Interactions.
std::array<bool, 3> optional_columns(const FileColumns& c) {
  return {c.rating.has_value(), c.timestamp.has_value(), c.weight.has_value()};
}

// Appends the table's rows to `out`, its ids coded by out's own IdCodes.
void read_rows(CsvTable& table, const FileColumns& c, const InteractionFiles& in,
               RawInteractions& out) {
  Interactions& kept = out.kept;
  const std::optional<double> rating_above = in.rating_above;
  kept.context.resize(c.context.size());
  for (std::size_t k = 0; k < c.context.size(); ++k) kept.context[k].name = in.context_cols[k];
  while (table.next()) {
    ++out.rows_read;
    const std::size_t line = table.line();
    // Each distinct id is checked (id_problem) once per chunk, when first
    // seen: the same bytes again are the same valid id. A bad id's first
    // row is still the row its error names.
    const std::string_view user_id = id_text(table, c.user, "user");
    const std::size_t users_before = out.users.size();
    const std::int32_t user = out.users.code(user_id, line);
    if (out.users.size() != users_before) check_id(table, c.user, "user", user_id);
    const std::string_view item_id = id_text(table, c.item, "item");
    const std::size_t items_before = out.items.size();
    const std::int32_t item = out.items.code(item_id, line);
    if (out.items.size() != items_before) check_id(table, c.item, "item", item_id);
    const double rating =
        c.rating ? number_field<double>(table, *c.rating, "rating", "a number") : 0.0;
    const std::int64_t timestamp =
        c.timestamp ? number_field<std::int64_t>(table, *c.timestamp, "timestamp", "an integer")
                    : 0;
    const double weight =
        c.weight ? number_field<double>(table, *c.weight, "weight", "a number") : 1.0;
    if (weight < 0) {
      throw table.error(ErrorKind::Corruption,
                        fmt::format("weight {} is negative ({})", weight, c.weight->label));
    }
    if (rating_above && !(rating > *rating_above)) {
      out.dropped.users.push_back(user);
      out.dropped.items.push_back(item);
      continue;
    }
    kept.users.push_back(user);
    kept.items.push_back(item);
    if (c.rating) kept.ratings.push_back(static_cast<float>(rating));
    if (c.timestamp) kept.timestamps.push_back(timestamp);
    if (c.weight) kept.weights.push_back(static_cast<float>(weight));
    for (std::size_t k = 0; k < c.context.size(); ++k) {
      kept.context[k].values.emplace_back(trim_blanks(table.field(c.context[k])));
    }
  }
}

// Room for `need` entries; when it must grow, room for `estimate` (the
// whole input's, if larger), so that the arrays are copied once or twice
// rather than doubling all the way: reserved memory that is never written
// costs no physical memory.
template <typename T>
void reserve_for(std::vector<T>& v, std::size_t need, std::size_t estimate) {
  if (need > v.capacity()) v.reserve(std::max(need, estimate));
}

template <typename T>
void append(std::vector<T>& to, const std::vector<T>& from, std::size_t estimate) {
  reserve_for(to, to.size() + from.size(), estimate);
  to.insert(to.end(), from.begin(), from.end());
}

void append_codes(std::vector<std::int32_t>& to, const std::vector<std::int32_t>& from,
                  const std::vector<std::int32_t>& code_map, std::size_t estimate) {
  reserve_for(to, to.size() + from.size(), estimate);
  for (const std::int32_t c : from) to.push_back(code_map[static_cast<std::size_t>(c)]);
}

// One chunk on its way through: read, parsed into its own codes, merged.
struct Slot {
  TextChunk chunk;
  std::shared_ptr<const FileColumns> columns;
  RawInteractions rows;
  std::exception_ptr error;
  std::uint64_t seq = 0;
};

// Reading is done by whichever thread wants a chunk, under the lock (gzip
// is decompressed there: one stream, one thread at a time), parsing by all
// threads at once, and merging in chunk order by whichever thread hands in
// the chunk that is next, while the others read and parse. Threads that
// wait sleep on a condition variable.
class Pipeline {
 public:
  Pipeline(const InteractionFiles& in, RawInteractions& raw, int threads)
      : in_(in),
        raw_(raw),
        chunks_(in.files, in.csv.delimiter, in.csv.quoting,
                in.chunk_bytes != 0 ? in.chunk_bytes : kDefaultChunkBytes) {
    // A chunk per thread being parsed, and one more waiting to be merged.
    slots_.resize(static_cast<std::size_t>(threads) + 1);
    for (auto& slot : slots_) {
      slot = std::make_unique<Slot>();
      free_.push_back(slot.get());
    }
  }

  void work() {
    for (;;) {
      Slot* slot = nullptr;
      {
        std::unique_lock lock(mutex_);
        slot_freed_.wait(lock, [&] { return stop_ || reading_done_ || !free_.empty(); });
        if (stop_ || reading_done_) return;
        slot = free_.back();
        free_.pop_back();
        bool got = false;
        try {
          got = read_next(*slot);
        } catch (...) {
          // Chunks before this one are still merged: an error in them,
          // earlier in the files, is the one reported.
          slot->error = std::current_exception();
          got = true;
          reading_done_ = true;
        }
        if (!got) {
          free_.push_back(slot);
          reading_done_ = true;
          slot_freed_.notify_all();
          return;
        }
        slot->seq = next_seq_++;
      }
      if (!slot->error) {
        try {
          parse(*slot);
        } catch (...) {
          slot->error = std::current_exception();
        }
      }
      hand_in(slot);
    }
  }

  // After every thread's work(): the first error in file order, if any.
  void finish() {
    if (error_) std::rethrow_exception(error_);
  }

  void fail(std::exception_ptr error) {
    std::lock_guard lock(mutex_);
    if (!error_) error_ = std::move(error);
    stop_ = true;
    slot_freed_.notify_all();
  }

 private:
  // Under the lock: the next chunk of data rows into `slot`; false at the
  // end of the files. A file's first chunk gives its columns.
  bool read_next(Slot& slot) {
    for (;;) {
      if (!chunks_.next(slot.chunk)) return false;
      slot.chunk.source_bytes += unmerged_source_bytes_;
      unmerged_source_bytes_ = 0;
      if (slot.chunk.file_start) {
        const fs::path& path = chunks_.files()[slot.chunk.file];
        const CsvTable table(
            CsvReader(slot.chunk.text, path, {slot.chunk.delimiter, in_.csv.quoting},
                      {slot.chunk.first_line, false}),
            in_.header);
        auto columns = std::make_shared<FileColumns>(resolve_columns(table, in_));
        check_same_columns(*columns, path);
        current_ = std::move(columns);
        if (in_.header) {  // a header holds no row
          unmerged_source_bytes_ = slot.chunk.source_bytes;
          continue;
        }
      }
      slot.columns = current_;
      return true;
    }
  }

  void check_same_columns(const FileColumns& columns, const fs::path& path) {
    const std::array<bool, 3> has = optional_columns(columns);
    if (!first_columns_) {
      first_columns_ = has;
      first_path_ = path;
      return;
    }
    constexpr std::array<const char*, 3> kNames = {"rating", "timestamp", "weight"};
    for (std::size_t c = 0; c < has.size(); ++c) {
      if (has[c] == (*first_columns_)[c]) continue;
      const fs::path& with = has[c] ? path : first_path_;
      const fs::path& without = has[c] ? first_path_ : path;
      throw Error(ErrorKind::InvalidArgument,
                  fmt::format("{} has a {} column and {} has none: files read together need "
                              "the same columns",
                              with.string(), kNames[c], without.string()));
    }
  }

  void parse(Slot& slot) {
    slot.rows.clear();
    const fs::path& path = chunks_.files()[slot.chunk.file];
    CsvTable table(
        CsvReader(std::move(slot.chunk.text), path, {slot.chunk.delimiter, in_.csv.quoting},
                  {slot.chunk.first_line, false}),
        slot.columns->layout);
    read_rows(table, *slot.columns, in_, slot.rows);
    slot.chunk.text = std::move(table).take_text();  // its buffer, for the next chunk
  }

  // Puts a parsed chunk where the merge finds it, and merges every chunk
  // that is next in order unless another thread is merging already.
  void hand_in(Slot* slot) {
    std::unique_lock lock(mutex_);
    ready_[slot->seq] = slot;
    if (merging_) return;
    merging_ = true;
    for (auto it = ready_.find(merged_); it != ready_.end(); it = ready_.find(merged_)) {
      Slot* next = it->second;
      ready_.erase(it);
      if (!stop_ && next->error) {
        error_ = next->error;
        stop_ = true;
      } else if (!stop_) {
        lock.unlock();
        std::exception_ptr error;
        try {
          merge(*next);
        } catch (...) {
          error = std::current_exception();
        }
        lock.lock();
        if (error && !error_) {
          error_ = error;
          stop_ = true;
        }
      }
      next->error = nullptr;
      ++merged_;
      free_.push_back(next);
      slot_freed_.notify_all();
    }
    merging_ = false;
  }

  // One thread at a time, in chunk order: the chunk's codes become codes
  // of raw_ (first appearances in order, as one thread would meet them),
  // and its rows are appended.
  void merge(Slot& slot) {
    const RawInteractions& local = slot.rows;
    const auto file = static_cast<std::uint32_t>(in_.file_number + slot.chunk.file);
    raw_.users.set_file(file);
    raw_.items.set_file(file);
    const auto map_codes = [](const IdCodes& from, IdCodes& to, std::vector<std::int32_t>& map) {
      map.resize(from.size());
      for (std::size_t c = 0; c < from.size(); ++c) {
        const auto code = static_cast<std::int32_t>(c);
        map[c] = to.code(from.id(code), from.first_line(code));
      }
    };
    map_codes(local.users, raw_.users, user_map_);
    map_codes(local.items, raw_.items, item_map_);

    // The whole input's rows, extrapolated from the share read so far.
    source_bytes_ += slot.chunk.source_bytes;
    const double scale = static_cast<double>(chunks_.total_bytes()) /
                         static_cast<double>(std::max<std::uint64_t>(source_bytes_, 1)) * 1.05;
    const auto estimate = [&](std::size_t so_far) {
      return static_cast<std::size_t>(std::min(static_cast<double>(so_far) * scale, 1e12));
    };
    Interactions& kept = raw_.kept;
    const std::size_t kept_estimate = estimate(kept.size() + local.kept.size());
    append_codes(kept.users, local.kept.users, user_map_, kept_estimate);
    append_codes(kept.items, local.kept.items, item_map_, kept_estimate);
    append(kept.ratings, local.kept.ratings, kept_estimate);
    append(kept.timestamps, local.kept.timestamps, kept_estimate);
    append(kept.weights, local.kept.weights, kept_estimate);
    kept.context.resize(local.kept.context.size());
    for (std::size_t k = 0; k < kept.context.size(); ++k) {
      kept.context[k].name = local.kept.context[k].name;
      std::vector<std::string>& to = kept.context[k].values;
      reserve_for(to, to.size() + local.kept.context[k].values.size(), kept_estimate);
      for (std::string& v : slot.rows.kept.context[k].values) to.push_back(std::move(v));
    }
    Interactions& dropped = raw_.dropped;
    const std::size_t dropped_estimate = estimate(dropped.size() + local.dropped.size());
    append_codes(dropped.users, local.dropped.users, user_map_, dropped_estimate);
    append_codes(dropped.items, local.dropped.items, item_map_, dropped_estimate);
    raw_.rows_read += local.rows_read;
    for (auto* per_file : {&raw_.kept_per_file, &raw_.dropped_per_file}) {
      if (per_file->size() <= file) per_file->resize(std::size_t{file} + 1, 0);
    }
    raw_.kept_per_file[file] += local.kept.size();
    raw_.dropped_per_file[file] += local.dropped.size();
  }

  const InteractionFiles& in_;
  RawInteractions& raw_;

  std::mutex mutex_;
  std::condition_variable slot_freed_;
  // Guarded by mutex_:
  TextChunks chunks_;
  std::shared_ptr<const FileColumns> current_;  // the columns of the file being read
  std::optional<std::array<bool, 3>> first_columns_;
  fs::path first_path_;
  std::uint64_t unmerged_source_bytes_ = 0;  // read with a header chunk
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<Slot*> free_;
  std::map<std::uint64_t, Slot*> ready_;
  std::uint64_t next_seq_ = 0;
  std::uint64_t merged_ = 0;
  bool reading_done_ = false;
  bool merging_ = false;
  bool stop_ = false;
  std::exception_ptr error_;
  // Used by the merging thread only:
  std::vector<std::int32_t> user_map_, item_map_;
  std::uint64_t source_bytes_ = 0;
};

}  // namespace

void read_interaction_files(const InteractionFiles& in, RawInteractions& raw) {
  const int threads = resolve_threads(in.threads);
  const std::size_t rows_before = raw.rows_read;
  const std::size_t kept_before = raw.kept.size();
  Pipeline pipeline(in, raw, threads);
  if (threads == 1) {
    pipeline.work();
  } else {
#pragma omp parallel num_threads(threads)
    {
      try {
        pipeline.work();
      } catch (...) {
        pipeline.fail(std::current_exception());
      }
    }
  }
  pipeline.finish();
  if (in.allow_no_rows) return;
  require_rows(raw.rows_read - rows_before, raw.kept.size() - kept_before, in.source,
               in.rating_above, ErrorKind::Corruption);
}

}  // namespace latent::detail
