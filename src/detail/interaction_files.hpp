#pragma once
// Interaction rows from delimited files (CSV/TSV, plain or gzip): one file or
// several read as one, in chunks (text_chunks.hpp) parsed on several
// threads. The rows and the ids' codes come out exactly as one thread
// reading the files one after the other makes them: rows in file order, ids
// coded in order of first appearance, and the first malformed row (in file
// order) is the error. Memory: the growing arrays of rows plus a few chunks
// per thread, never a whole file's text.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "detail/csv.hpp"
#include "detail/raw_interactions.hpp"

namespace latent::detail {

struct InteractionFiles {
  std::vector<std::filesystem::path> files;  // read in this order, as one table
  CsvOptions csv;                            // delimiter 0: each file's is sniffed
  bool header = true;                        // every file starts with the header
  // Column references (a header name or a 0-based number); empty: the
  // defaults of default_column_names (dataset.hpp), user and item else
  // columns 0 and 1, rating else column 2 of a headerless file with 3 or
  // more fields.
  std::string user_col, item_col, rating_col, timestamp_col, weight_col;
  // Columns kept as each pair's context (Interactions::context), each named
  // by its reference, its values as they are (blanks trimmed).
  std::vector<std::string> context_cols;
  std::optional<double> rating_above;  // keep rows with rating > this
  // How messages name the files together ("no data rows"): the file's path
  // when there is one.
  std::string source;
  int threads = 0;                // 0: all cores
  std::size_t chunk_bytes = 0;    // 0: 2 MiB
  std::uint32_t file_number = 0;  // IdCodes::set_file number of files[0]; files[i] is + i
  // No data rows, or none kept, is not an error (one rank's share of a
  // distributed run's files: the ranks check their rows together).
  bool allow_no_rows = false;
};

// Appends the files' kept rows to raw.kept, the rows the rating filter
// dropped to raw.dropped (users and items only), and counts rows_read and
// each file's rows (raw.kept_per_file, raw.dropped_per_file).
// Every file resolves its columns from its own header; they must give the
// same optional columns (rating, timestamp, weight) as the first file.
// Throws what TextChunks and CsvTable throw (naming the file and line), and
// Corruption when the files have no data row, InvalidArgument when the
// rating filter keeps none or needs a rating column a file lacks.
void read_interaction_files(const InteractionFiles& in, RawInteractions& raw);

}  // namespace latent::detail
