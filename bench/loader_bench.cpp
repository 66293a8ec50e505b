// latent_bench_loader: load one data input (a CSV/TSV file, gzip or not, or
// a glob of part files) with load_dataset as `latent train --data` does, and
// print one JSON line: rows, seconds, input bytes, the bytes of the loaded
// arrays and vocabularies, and the process's peak resident memory. Run once
// per measurement (peak memory is the process's), by loader_bench.py.

#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <latent/dataset.hpp>
#include <latent/error.hpp>

namespace {

template <typename T>
std::uint64_t bytes_of(const std::vector<T>& v) {
  return v.size() * sizeof(T);
}

// What the loaded data set holds: the interaction arrays, the seen-only
// pairs and the vocabularies' ids (as std::string objects plus any text
// longer than the small-string buffer; the lookup index beside them is
// counted too, at its node and bucket sizes).
std::uint64_t array_bytes(const latent::Interactions& x) {
  return bytes_of(x.users) + bytes_of(x.items) + bytes_of(x.ratings) + bytes_of(x.timestamps) +
         bytes_of(x.weights);
}

std::uint64_t vocabulary_bytes(const latent::Vocabulary& v) {
  std::uint64_t bytes = 0;
  for (const std::string& id : v.ids())
    bytes += sizeof(std::string) + (id.size() > 15 ? id.size() + 1 : 0);
  // unordered_map<string_view, int32>: a node (next pointer, key, value,
  // cached hash) and a bucket pointer per id.
  bytes += static_cast<std::uint64_t>(v.num_known()) * (8 + 16 + 8 + 8 + 8);
  return bytes;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Load a data input with latent's loader and print its speed and memory as JSON"};
  latent::LoadOptions options;
  std::string format = "auto";
  app.add_option("--data", options.data, "CSV/TSV file, gzip or not, or a quoted glob")->required();
  app.add_option("--format", format, "auto, csv, user-lines, ...");
  app.add_option("--threads", options.threads, "Threads (0: all cores)");
  app.add_option("--chunk-bytes", options.chunk_bytes, "Chunk size (0: the default)");
  CLI11_PARSE(app, argc, argv);
  try {
    options.format = latent::parse_data_format(format);
    const auto start = std::chrono::steady_clock::now();
    const latent::Dataset data = latent::load_dataset(options);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    struct rusage usage {};
    getrusage(RUSAGE_SELF, &usage);
    std::uint64_t input_bytes = 0;
    std::string pattern = options.data.string();
    if (pattern.find_first_of("*?[") == std::string::npos) {
      input_bytes = std::filesystem::file_size(options.data);
    }
    const nlohmann::json out = {
        {"rows", data.rows_read},
        {"pairs", data.interactions.size()},
        {"users", data.users.num_known()},
        {"items", data.items.num_known()},
        {"seconds", seconds},
        {"input_bytes", input_bytes},
        {"array_bytes", array_bytes(data.interactions) + array_bytes(data.seen_only)},
        {"vocabulary_bytes", vocabulary_bytes(data.users) + vocabulary_bytes(data.items)},
        {"peak_rss_bytes", static_cast<std::uint64_t>(usage.ru_maxrss) * 1024},
    };
    std::cout << out.dump() << "\n";
  } catch (const latent::Error& e) {
    std::cerr << "latent_bench_loader: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
