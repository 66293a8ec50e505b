#pragma once
// Dataset and loaders: read interactions from MovieLens 100K (u.data + u.item),
// MovieLens latest (ratings.csv + movies.csv), any CSV/TSV with a column
// mapping or user-lines files (NGCF's and LightGCN's "user item item ..."),
// join item metadata (titles), filter by rating, and build the user and item
// vocabularies; or read a training file and a test file into one data set
// and its split (load_train_test). Every data file may be gzip-compressed
// (a name ending in .gz, or the gzip magic bytes): it is decompressed with
// zlib as it is read.
//
// Vocabularies: users come from the kept (filtered) rows. Items come from the
// item metadata file when there is one (the whole catalog, as the TFRS
// tutorial builds its title vocabulary from the movies table), otherwise from
// the kept rows. On ML-100K with rating > 3 and titles as items: 942 users
// (943 rows with OOV) and 1,664 titles (1,665 rows).

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <latent/communicator.hpp>
#include <latent/interactions.hpp>
#include <latent/vocabulary.hpp>

namespace latent {

enum class DataFormat { Auto, MovieLens100K, MovieLensLatest, Csv, UserLines };
enum class ItemKey { Id, Title };

// "ml-100k", "ml-latest", "csv", "user-lines", "auto"; throws InvalidArgument
// listing the valid names.
DataFormat parse_data_format(const std::string& name);
const char* to_string(DataFormat format) noexcept;
// "id", "title".
ItemKey parse_item_key(const std::string& name);
const char* to_string(ItemKey key) noexcept;

// The column names the loaders (and Python's from_dataframe) look for when
// a role's column is not named, in order of preference: "user", "item",
// "rating", "timestamp", "weight", and "title" in item metadata. Throws
// InvalidArgument for another role.
std::span<const std::string_view> default_column_names(std::string_view role);
// The roles above, in that order.
std::span<const std::string_view> column_roles();

struct LoadOptions {
  // A directory (MovieLens layouts), a file (CSV/TSV or user-lines
  // interactions), or a glob pattern (*, ? or [...]: "logs/part-*.csv")
  // whose files, in byte order of their paths, are read as one CSV/TSV
  // table: each starts with its own header (when there is one), and each
  // must give the same optional columns. CSV/TSV files are read in chunks on
  // every thread, so memory is the rows' arrays plus a few chunks, not the
  // files' text.
  std::filesystem::path data;
  // Auto: a directory holding u.data -> MovieLens100K; one holding
  // ratings.csv -> MovieLensLatest; a file -> Csv. UserLines is never
  // detected (a space-separated "user item rating" CSV looks the same): ask
  // for it. UserLines: one line per user, "user item item ...", separated by
  // spaces or tabs, no header; blank lines and lines with a user and no item
  // are skipped; a user on several lines has the items of all of them; a
  // user's repeated item is one pair (rows_read counts every listed item).
  // It has no columns, ratings or delimiter to set: the column, delimiter
  // and rating_above options are InvalidArgument with it; header is ignored;
  // items_file and item_key apply as for CSV.
  DataFormat format = DataFormat::Auto;

  // CSV/TSV only. delimiter 0 means: '\t' for .tsv/.data files, else
  // sniffed from the first line (tab, comma, semicolon, '|').
  char delimiter = 0;
  bool header = true;
  // Column references: a header name, or a 0-based column number. Empty
  // means the default: user: user_id|userId|user (else 0); item:
  // item_id|movieId|movie_id|item (else 1); rating: rating (else column 2
  // when headerless with >= 3 columns, else none); timestamp: timestamp;
  // weight: weight (else none). Weights are finite and >= 0; each pair's
  // loss is scaled by its weight, like a Keras sample_weight.
  std::string user_col;
  std::string item_col;
  std::string rating_col;
  std::string timestamp_col;
  std::string weight_col;
  // Columns kept as each pair's context (Interactions::context), by header
  // name or 0-based number: the raw values of context features other than
  // the time (the device, the page). CSV/TSV and the MovieLens layouts;
  // every file read must have them.
  std::vector<std::string> context_cols;

  // Optional item metadata file (CSV/TSV with a header) joined on the item
  // id; for the MovieLens formats it is u.item / movies.csv automatically.
  std::filesystem::path items_file;
  std::string items_id_col;     // default: first column
  std::string items_title_col;  // default: title|movie_title|name, else second

  // Keep rows with rating > rating_above (all rows when unset).
  std::optional<double> rating_above;
  ItemKey item_key = ItemKey::Id;

  // Reading CSV/TSV: threads parsing chunks (0: all cores), and the size a
  // chunk is cut at (0: 2 MiB). The result is the same for any values.
  int threads = 0;
  std::size_t chunk_bytes = 0;
};

struct Dataset {
  Vocabulary users;
  Vocabulary items;
  Interactions interactions;  // kept rows, rows of users/items above
  // The rows the rating filter dropped (rating <= rating_above) whose user
  // and item are both in the vocabularies, as (user, item) pairs only: not
  // training data, but items the user has seen, so the model's seen items
  // (what --exclude-seen leaves out) include them. Empty without a filter.
  Interactions seen_only;
  // Title of each item row when metadata was joined (item_titles[0] is
  // empty for OOV), else empty. With ItemKey::Title the ids are the titles.
  std::vector<std::string> item_titles;
  DataFormat format = DataFormat::Auto;  // the format actually read
  std::size_t rows_read = 0;             // data rows before filtering
  std::string description;               // e.g. "ml-100k at /path (rating > 3)"
};

// Throws Error naming the file, line and column for anything malformed:
// missing files, unknown columns, non-numeric ratings, wrong field counts,
// corrupt or truncated gzip data (with the byte offset), and no rows left
// after filtering.
Dataset load_dataset(const LoadOptions& options);

// One rank's share of a data set that the ranks of a distributed run read
// together (communicator.hpp, docs/distributed.md). Rank r of N reads files
// r, r + N, r + 2N, ... of data_files(options.data) (CSV/TSV only).
struct DatasetShare {
  // The vocabularies, titles, rows_read and description of the whole data
  // set, the same on every rank and as load_dataset makes them; its
  // interactions (users, items, weights, ratings and timestamps) and
  // seen_only (users and items) are this rank's rows, on those vocabularies.
  Dataset data;
  // How many of data.interactions' rows, and of data.seen_only's, each file
  // of data_files(options.data) gave, in that order (0 for other ranks'
  // files): a rank's rows are its files' rows in file order.
  std::vector<std::uint64_t> kept_per_file, seen_per_file;
};

// Collective: every rank calls it with the same options. Throws
// CollectiveError on every rank for what every rank sees alike (a format
// other than CSV/TSV, no data rows or none kept over all the ranks, part
// files with different optional columns), and Error as load_dataset does on
// the rank whose file is malformed (run_on_every_rank then stops them all).
DatasetShare load_dataset_share(const LoadOptions& options, Communicator& comm);

// The files load_dataset reads for `data` (LoadOptions::data): itself, or
// the files matching it when it is a glob pattern and no file of that name
// exists, in byte order of their paths. Throws NotFound when a pattern matches nothing, IO when a
// directory of the pattern cannot be read.
std::vector<std::filesystem::path> data_files(const std::filesystem::path& data);

// A training file and a test file (a published split, such as NGCF's
// train.txt and test.txt), read into one data set on shared vocabularies.
struct TrainTestData {
  // interactions: the training file's kept rows, then the test file's.
  // Users and items come from the kept rows of both files (items from the
  // metadata file when there is one), so an item only the test file has is
  // in the catalog, ranked with no training data. seen_only: the training
  // file's rows the rating filter dropped (the test file's are not known at
  // training time). description names both files.
  Dataset data;
  // train: the training file's rows; test: the test file's; both on the
  // rows of data's vocabularies.
  Split split;
};

// Reads options.data as the training file and `test_file` as the test file,
// both with the options' format (a file format: csv or user-lines; auto
// means csv), delimiter (0: each file's own default), header, columns,
// rating filter and item key. Throws what load_dataset throws for either
// file, and InvalidArgument when options.data is a MovieLens directory or
// a test user has no kept row in the training file (naming the first such
// user, its line in the test file, and how many such users there are).
TrainTestData load_train_test(const LoadOptions& options, const std::filesystem::path& test_file);

// Interactions already in memory, one entry per row (the Python module's
// pandas DataFrame or numpy arrays): the same filter, vocabularies, item
// metadata join and checks as load_dataset, without a file.
struct ColumnData {
  std::vector<std::string> users;        // raw ids, size() rows
  std::vector<std::string> items;        // raw ids, size() rows
  std::vector<double> ratings;           // empty, or one per row (finite)
  std::vector<std::int64_t> timestamps;  // empty, or one per row
  std::vector<double> weights;           // empty, or one per row (finite, >= 0)
  std::vector<ContextColumn> context;    // each with one value per row
  // Optional item metadata, parallel: the catalog's ids and their titles.
  // When given, it is the item vocabulary (as the items file of LoadOptions).
  std::vector<std::string> catalog_ids;
  std::vector<std::string> catalog_titles;
  std::optional<double> rating_above;  // keep rows with rating > T
  ItemKey item_key = ItemKey::Id;      // Title needs the catalog
  // How messages name the source and its columns, e.g. "DataFrame" and the
  // column names; rows are named by their 0-based position.
  std::string source = "columns";
  std::string user_name = "user", item_name = "item", rating_name = "rating",
              timestamp_name = "timestamp", weight_name = "weight";
  std::string catalog_source = "item metadata";
  std::string catalog_id_name = "item id", catalog_title_name = "title";
};

// Throws InvalidArgument naming the source, row, column and value for
// columns of different lengths (context columns included), no rows, an empty id, a non-finite
// rating or weight, a negative weight, no rows left after filtering, an empty title with
// ItemKey::Title, or a duplicate catalog id; NotFound for an item that is not in the catalog.
Dataset dataset_from_columns(const ColumnData& columns);

}  // namespace latent
