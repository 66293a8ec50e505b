#include <latent/rank_agreement.hpp>

#include <algorithm>
#include <cstdio>
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <xxhash.h>
#include <nlohmann/json.hpp>

namespace latent {

std::string binary_identity() {
  const std::unique_ptr<std::FILE, decltype(&std::fclose)> file(std::fopen("/proc/self/exe", "rb"),
                                                                &std::fclose);
  if (!file) return "unknown";
  const std::unique_ptr<XXH64_state_t, decltype(&XXH64_freeState)> state(XXH64_createState(),
                                                                         &XXH64_freeState);
  XXH64_reset(state.get(), 0);
  std::vector<char> buffer(1 << 20);
  std::size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), file.get())) > 0) {
    XXH64_update(state.get(), buffer.data(), n);
  }
  if (std::ferror(file.get())) return "unknown";
  return fmt::format("{:016x}", XXH64_digest(state.get()));
}

namespace {

std::string shown(const std::vector<std::string>& values) {
  return values.empty() ? "none" : fmt::format("{}", fmt::join(values, " "));
}

// What differs between two lists of files, said briefly: the first file one
// has and the other lacks, else the first position where they differ.
std::string file_difference(const std::vector<std::string>& rank0,
                            const std::vector<std::string>& other, int rank) {
  for (const auto& f : rank0) {
    if (std::find(other.begin(), other.end(), f) == other.end()) {
      return fmt::format("rank {} lacks {} ({} files where rank 0 has {})", rank, f, other.size(),
                         rank0.size());
    }
  }
  for (const auto& f : other) {
    if (std::find(rank0.begin(), rank0.end(), f) == rank0.end()) {
      return fmt::format("rank {} has {}, which rank 0 lacks ({} files where rank 0 has {})", rank,
                         f, other.size(), rank0.size());
    }
  }
  return fmt::format("rank {} lists them in another order: {} where rank 0 has {}", rank,
                     shown(other), shown(rank0));
}

// The first argument where two command lines differ, with its neighbour
// (so "--epochs 4" rather than "4"), and both whole lines.
std::string flag_difference(const std::vector<std::string>& rank0,
                            const std::vector<std::string>& other, int rank) {
  std::size_t i = 0;
  while (i < rank0.size() && i < other.size() && rank0[i] == other[i]) ++i;
  const auto at = [i](const std::vector<std::string>& v) -> std::string {
    if (i >= v.size()) return "nothing more";
    const bool value = i > 0 && v[i].rfind("--", 0) != 0 && v[i - 1].rfind("--", 0) == 0;
    return value ? v[i - 1] + " " + v[i] : v[i];
  };
  return fmt::format("rank {} has {} where rank 0 has {} (rank {}: {}; rank 0: {})", rank,
                     at(other), at(rank0), rank, shown(other), shown(rank0));
}

}  // namespace

void check_ranks_agree(Communicator& comm, const RankFingerprint& mine) {
  if (!comm.distributed()) return;
  const nlohmann::json j{{"binary", mine.binary}, {"flags", mine.flags}, {"files", mine.files}};
  const std::vector<std::string> all = comm.allgather(j.dump());
  const auto first = nlohmann::json::parse(all[0]);
  for (int r = 1; r < comm.size(); ++r) {
    const auto other = nlohmann::json::parse(all[static_cast<std::size_t>(r)]);
    std::string what;
    if (other["binary"] != first["binary"]) {
      what = fmt::format(
          "their executable: rank {} runs a build whose hash is {} where rank 0's "
          "is {} (run the same latent on every rank)",
          r, other["binary"].get<std::string>(), first["binary"].get<std::string>());
    } else if (other["flags"] != first["flags"]) {
      what = fmt::format("their flags: {}",
                         flag_difference(first["flags"].get<std::vector<std::string>>(),
                                         other["flags"].get<std::vector<std::string>>(), r));
    } else if (other["files"] != first["files"]) {
      what = fmt::format("their data files: {}",
                         file_difference(first["files"].get<std::vector<std::string>>(),
                                         other["files"].get<std::vector<std::string>>(), r));
    }
    if (!what.empty()) {
      throw CollectiveError(ErrorKind::InvalidArgument,
                            fmt::format("the {} ranks disagree on {}", comm.size(), what));
    }
  }
}

}  // namespace latent
