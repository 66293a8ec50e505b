#pragma once
// Side features of users or items (issue 16): which columns a model reads
// beside the ids, how each column's values become tokens, and the encoded
// tokens of every user or item.
//
// A column is declared as NAME:TYPE[:OPTION=VALUE...], several separated by
// commas (the CLI's --item-features, Python's keyword arguments):
//
//   genres:multi,year:numeric:buckets=10,title:text:max=10000,zip:categorical:hash=1000
//
// Every value becomes one or more tokens of its column, each a row of that
// column's embedding table with a weight; a user's or item's feature vector
// is the weighted sum of its tokens' rows (towers over features, cold
// start). Row 0 of every column is its OOV row: a missing (empty) value, or
// one the fit never saw.
//
//   categorical  one token, weight 1: the value's row in the column's
//                vocabulary (built by fit; Keras StringLookup), or with
//                hash=B, 1 + XXH64(value) % B (no vocabulary: huge or
//                open-ended vocabularies).
//   multi        values separated by `sep` (default '|': "Action|Comedy"),
//                each a token as categorical, weights 1/n (their mean).
//   numeric      a number. Row 1 with weight (x - mean) / std (Keras
//                Normalization; std 1 when every value is the same), and
//                with buckets=B also the row 2 + b of its bucket b among B
//                of about equal counts of the fit's values (Keras
//                Discretization). Missing: row 0 alone.
//   timestamp    a numeric of seconds since 1970 (an integer or decimal
//                number, or a date "YYYY-MM-DD" with an optional time
//                "THH:MM:SS" or " HH:MM:SS", UTC), bucketized by default
//                (buckets=1000, as the TFRS side-features tutorial).
//   text         words (ASCII letters lowercased; split on every byte that is
//                not an ASCII letter or digit, so punctuation goes, and
//                bytes of UTF-8 letters stay in their words), each a token in
//                the column's word vocabulary, weights 1/n. Keras
//                TextVectorization with its default standardization.
//
// Options: hash=B (categorical, multi), max=N (categorical, multi, text: keep
// the N most frequent values, the rest are OOV; 0: all), min=C (the same:
// values seen fewer than C times are OOV), buckets=B (numeric, timestamp;
// 0: none), sep=C (multi: one character, or "tab"/"space"), dropout=P (every
// type, 0 <= P < 1: training leaves each of the column's tokens out of a
// batch's vectors with probability P and weighs the rest 1 / (1 - P), so the
// expected vector is the same; vectors outside training use every token. On
// a title it keeps the words of one item from standing in for its id, which
// a cold-start item does not have).
//
// Errors (InvalidArgument) name the column, the option and the value; a
// value that is not a number in a numeric or timestamp column names the
// source, its row and the value (FeatureTable::source).

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <latent/interactions.hpp>
#include <latent/vocabulary.hpp>

namespace latent {

class Communicator;

enum class FeatureType { Categorical, Multi, Numeric, Timestamp, Text };

// "categorical", "multi", "numeric", "timestamp", "text"; throws
// InvalidArgument listing them.
FeatureType parse_feature_type(std::string_view name);
const char* to_string(FeatureType type) noexcept;

// One declared column.
struct FeatureColumn {
  std::string name;
  FeatureType type = FeatureType::Categorical;
  std::int32_t hash_buckets = 0;  // hash=B
  std::int32_t max_tokens = 0;    // max=N
  std::int32_t min_count = 1;     // min=C
  std::int32_t buckets = 0;       // buckets=B
  char separator = '|';           // sep=C
  float dropout = 0;              // dropout=P
  // A value of each query rather than of its user (--context-features, as
  // the time of a rating in TFRS's context-features tutorial): the trainer
  // takes it from each pair, a front end from each request. Not part of
  // the declaration text; kept in to_json.
  bool context = false;

  // The declaration again (NAME:TYPE and the options that differ from the
  // type's defaults), as parse_feature_columns reads it.
  std::string to_string() const;
  nlohmann::json to_json() const;
  static FeatureColumn from_json(const nlohmann::json& j);
};

// Parses a comma-separated list of declarations (above); an empty text is no
// column. Throws InvalidArgument for an empty or repeated name, an unknown
// type or option, an option the type does not take, a value out of range,
// or hash together with max or min.
std::vector<FeatureColumn> parse_feature_columns(std::string_view declaration);
// The columns as one declaration text, as parse_feature_columns reads it
// (each column's to_string, comma-separated; empty for no column).
std::string feature_declaration(std::span<const FeatureColumn> columns);

// A feature's value by name, as a front end takes it for one user or item
// ("age", "25").
struct FeatureValue {
  std::string name;
  std::string value;
};

// Raw values of the declared columns, one row per user or item: ids[r] has
// values[c][r] in column c (the declared columns, in order; "" is missing).
struct FeatureTable {
  std::vector<FeatureColumn> columns;  // the declarations of values' columns
  std::vector<std::string> ids;
  std::vector<std::vector<std::string>> values;
  // How messages name where the values came from ("items.csv", "DataFrame")
  // and a row: "<source>: <row_name> <number>", the number row_numbers[r]
  // (a file's line), or r when row_numbers is empty.
  std::string source = "features";
  std::string row_name = "row";
  std::vector<std::size_t> row_numbers;
};

// The declared columns of a CSV/TSV file with a header (gzip or not; the
// delimiter sniffed when 0), one row per id: `id_column` names the id
// column (a header name, or a 0-based number). Throws NotFound naming the
// file for a missing file or a declared column the header lacks (listing
// the header), Corruption naming the file and line for a malformed row, an
// empty or invalid id, or an id on two rows (naming both lines).
FeatureTable load_feature_table(const std::filesystem::path& path, const std::string& id_column,
                                std::span<const FeatureColumn> columns, char delimiter = 0);

// The tokens of a set of users or items: row r's tokens are index[k] and
// weight[k] for k in [indptr[r], indptr[r + 1]), in column order. index is
// a row of the concatenation of every column's table: column c's rows are
// [offsets[c], offsets[c + 1]) of FeatureEncoder::offsets().
struct FeatureRows {
  std::vector<std::int64_t> indptr{0};
  std::vector<std::int32_t> index;
  std::vector<float> weight;

  std::int64_t rows() const noexcept { return static_cast<std::int64_t>(indptr.size()) - 1; }
};

// What fit learned of one column: its vocabulary (categorical, multi and
// text without hash), or its statistics (numeric, timestamp).
struct ColumnEncoding {
  FeatureColumn column;
  Vocabulary vocabulary;
  double mean = 0;
  double std = 1;
  std::vector<double> boundaries;  // buckets: ascending, the buckets' lower edges but the first's
  std::int64_t fitted = 0;         // the fit's rows with a value in this column

  // Rows of this column's table, its OOV row included.
  std::int32_t rows() const noexcept;
};

class FeatureEncoder {
 public:
  FeatureEncoder() = default;

  // Learns each declared column's vocabulary or statistics from `table`
  // (its values[c] are column c's). Throws InvalidArgument when the table's
  // columns do not match the declarations, and as above for values.
  // With `comm`, each rank's table is its share of the rows, and the
  // statistics are of every rank's together, as one process would find them
  // in all the rows (collective; numeric and timestamp columns only, else
  // InvalidArgument on every rank).
  static FeatureEncoder fit(std::vector<FeatureColumn> columns, const FeatureTable& table,
                            Communicator* comm = nullptr);
  // a's columns, then b's, as one encoder (a user tower's features and the
  // queries' context). Throws InvalidArgument for a name in both.
  static FeatureEncoder joined(const FeatureEncoder& a, const FeatureEncoder& b);
  // The columns of a joined encoder whose FeatureColumn::context is
  // `context` (a saved user tower's: its user features', or its context's).
  FeatureEncoder part(bool context) const;

  std::span<const ColumnEncoding> columns() const noexcept { return columns_; }
  // Its columns' declaration text (feature_declaration).
  std::string declaration() const;
  // Column c's rows start at offsets()[c]; offsets().back() is every
  // column's rows together.
  std::span<const std::int32_t> offsets() const noexcept { return offsets_; }
  std::int32_t total_rows() const noexcept { return offsets_.empty() ? 0 : offsets_.back(); }
  // The separator that joins a list of values of column `name` into one
  // value (a multi column's sep=); '|' for a name that is not a column, as
  // the columns' default. Front ends that take lists (JSON, Python) use it.
  char separator_of(std::string_view name) const noexcept;

  // Every row of `table` (its columns those of the fit, in order).
  FeatureRows encode(const FeatureTable& table) const;
  // One user or item given as its values, one per declared column ("" is
  // missing), appended to `rows`. `where` names it in errors.
  void encode_one(std::span<const std::string_view> values, FeatureRows& rows,
                  std::string_view where) const;

  // The declarations and statistics (vocabularies are not in it: a model
  // file keeps them as tensors).
  nlohmann::json to_json() const;
  // The encoder to_json() described, with each column's vocabulary
  // (vocabularies[c]; an empty one for columns without). Throws
  // InvalidArgument naming the column when the JSON is not one to_json()
  // writes or a vocabulary's size disagrees with the column's rows.
  static FeatureEncoder restore(const nlohmann::json& j, std::vector<Vocabulary> vocabularies);

 private:
  friend struct SideFeatures;
  void finish();  // offsets_ from columns_
  // encode_one, naming the row in an error with where() (made only then).
  void encode_row(std::span<const std::string_view> values, FeatureRows& rows,
                  const std::function<std::string()>& where) const;

  std::vector<ColumnEncoding> columns_;
  std::vector<std::int32_t> offsets_;
};

// One side's features as a model trains on them: the encoder, fitted on
// the rows of the table whose id is in the training vocabulary (values
// only entities outside training have are OOV, as they would be for any
// entity training did not see), and the tokens of each vocabulary row:
// rows[r] is vocabulary row r's (the OOV row, and an id the table lacks,
// have every column missing).
struct SideFeatures {
  FeatureEncoder encoder;
  FeatureRows rows;
  std::int64_t with_values = 0;  // vocabulary rows the table has

  // Throws InvalidArgument as FeatureEncoder::fit does, naming the table's
  // source and line for a malformed value (in any row of the table).
  // The table's columns are its declarations (FeatureTable::columns).
  static SideFeatures fit(const FeatureTable& table, const Vocabulary& vocabulary);
  // The table's rows encoded by a trained encoder (a warm start: the saved
  // model's vocabularies and statistics; values it lacks are OOV). Throws
  // InvalidArgument naming both when the table's declared columns are not
  // the encoder's, and as fit does for a malformed value.
  static SideFeatures with_encoder(const FeatureTable& table, const Vocabulary& vocabulary,
                                   FeatureEncoder encoder);

 private:
  // row_of[r]: the table's row of vocabulary row r (-1: none).
  static SideFeatures encoded(const FeatureTable& table, FeatureEncoder encoder,
                              std::span<const std::int64_t> row_of);
};

// Context features of the queries (TFRS's context-features tutorial: the
// time of each rating): values of each pair rather than of its user,
// encoded by `encoder` (its columns' FeatureColumn::context set).
struct QueryContext {
  FeatureEncoder encoder;
  FeatureRows train;  // one row per training pair
  FeatureRows test;   // one row per test pair (none without a test set)

  // The declared columns of train's and test's pairs (test may be null),
  // fitted on train's. A column's values are the pairs': "timestamp" is
  // their timestamps (seconds since 1970); any other name is their
  // context column of that name (Interactions::context, the data's column
  // kept by LoadOptions::context_cols). The user vectors of a model
  // trained with context are those with every context column missing (its
  // OOV rows, which stay zero when every training pair has its value).
  // Throws InvalidArgument for no columns, or pairs without a column's
  // values (naming `source` and the column).
  // With `comm`, train is this rank's share of the pairs and the encoder
  // is fitted on every rank's together (collective, FeatureEncoder::fit).
  static QueryContext fit(std::span<const FeatureColumn> columns, const Interactions& train,
                          const Interactions* test, std::string_view source,
                          Communicator* comm = nullptr);
  // The pairs encoded by a trained context encoder (a warm start: the saved
  // model's statistics and buckets; a time outside them falls in its edge
  // bucket). Throws InvalidArgument naming both when the declared columns
  // are not the encoder's, and as fit does.
  static QueryContext with_encoder(std::span<const FeatureColumn> columns,
                                   const Interactions& train, const Interactions* test,
                                   std::string_view source, FeatureEncoder encoder);
  // The data columns a loader keeps for `columns` (LoadOptions::
  // context_cols): every name but "timestamp", in order.
  static std::vector<std::string> data_columns(std::span<const FeatureColumn> columns);
  // Whether the pairs have a value of every one of `columns`, as above.
  static bool has_values(std::span<const FeatureColumn> columns, const Interactions& pairs);
  // Pair p's values of `columns` as a front end gives them: {"timestamp",
  // its time} and {name, its value} (has_values must hold).
  static std::vector<FeatureValue> of_pair(std::span<const FeatureColumn> columns,
                                           const Interactions& pairs, std::size_t p);
};

enum class FeatureSide { Users, Items };

// The attributes MovieLens ships beside its ratings, in `dir` (the data
// directory of LoadOptions), as a table of `columns`, whose names must be
// among these (ids are the data's raw user and movie ids):
//   ml-100k users (u.user):  age, gender, occupation, zip
//   ml-100k items (u.item):  title, genres ('|'-separated names, from the
//                            genre flags and u.genre), release_date
//                            (YYYY-MM-DD), year
//   ml-latest items (movies.csv, tags.csv): title, genres ('|'-separated;
//                            "(no genres listed)" is missing), year (the
//                            title's "(1995)"), tags (every tag users gave
//                            the movie, '|'-separated, a '|' in a tag
//                            read as a space)
// Throws NotFound naming the column and listing the available ones, or
// naming the directory when it has no such file (ml-latest has no users'
// attributes), and Corruption naming the file and line for a malformed row.
FeatureTable movielens_feature_table(const std::filesystem::path& dir, FeatureSide side,
                                     std::span<const FeatureColumn> columns);

// One side's features as the front ends take them (--item-features and
// --item-features-file, Python's keywords): the columns declared by
// `declaration` (parse_feature_columns), from `file` (a CSV/TSV with a
// header, one row per id; `id_column` a header name or 0-based number,
// "" for the first column), or with no file, from the data set's own
// attributes when `data` is a MovieLens directory (movielens_feature_table).
// Throws InvalidArgument when there is no file and `data` is not a MovieLens
// directory, and as those functions do.
FeatureTable load_side_features(std::string_view declaration, FeatureSide side,
                                const std::filesystem::path& file, const std::string& id_column,
                                const std::filesystem::path& data);

// The words of `text` as the text type splits them (above).
std::vector<std::string> text_words(std::string_view text);

// Seconds since 1970-01-01 UTC of a timestamp value (above), or nullopt
// when it is not one.
std::optional<double> parse_timestamp(std::string_view text);

}  // namespace latent
