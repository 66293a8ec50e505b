#include <latent/rank_pairs.hpp>

#include <algorithm>
#include <cstring>
#include <string>
#include <tuple>

#include <fmt/format.h>

#include <latent/error.hpp>

namespace latent {

namespace {

// A message between ranks: for each segment with pairs for the receiver,
// its number, its pair count, its users, its items, (weighted) weights,
// (rated) ratings and (timed) timestamps, in this machine's byte order (every rank runs the same
// build).
template <class T>
void put(std::string& out, const T* values, std::size_t n) {
  out.append(reinterpret_cast<const char*>(values), n * sizeof(T));
}

template <class T>
const char* take(const char* at, T* values, std::size_t n) {
  std::memcpy(values, at, n * sizeof(T));
  return at + n * sizeof(T);
}

bool any_weights(Communicator& comm, const RankPairs& mine) {
  return comm.any_rank(!mine.pairs.weights.empty());
}

// Sends each of this rank's pairs to destination(k) and returns what every
// rank sent here, in one process's order.
template <class Destination>
Interactions exchange(Communicator& comm, const RankPairs& mine, bool weighted, bool rated,
                      bool timed, const Destination& destination) {
  const Interactions& x = mine.pairs;
  if (rated && x.ratings.size() != x.size()) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("{} ratings for {} pairs: every rank's pairs must have ratings",
                            x.ratings.size(), x.size()));
  }
  if (timed && x.timestamps.size() != x.size()) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("{} timestamps for {} pairs: every rank's pairs must have timestamps",
                            x.timestamps.size(), x.size()));
  }
  std::uint64_t in_segments = 0;
  for (const std::uint64_t n : mine.segments) in_segments += n;
  if (in_segments != x.size()) {
    throw Error(
        ErrorKind::InvalidArgument,
        fmt::format("the segments hold {} pairs, and the rank has {}", in_segments, x.size()));
  }
  const auto ranks = static_cast<std::size_t>(comm.size());
  std::vector<std::string> to(ranks);
  std::vector<std::vector<std::int32_t>> users(ranks), items(ranks);
  std::vector<std::vector<float>> weights(ranks), ratings(ranks);
  std::vector<std::vector<std::int64_t>> times(ranks);
  std::size_t k = 0;
  for (std::size_t s = 0; s < mine.segments.size(); ++s) {
    for (auto& v : users) v.clear();
    for (auto& v : items) v.clear();
    for (auto& v : weights) v.clear();
    for (auto& v : ratings) v.clear();
    for (auto& v : times) v.clear();
    for (std::uint64_t i = 0; i < mine.segments[s]; ++i, ++k) {
      const auto r = static_cast<std::size_t>(destination(k));
      users[r].push_back(x.users[k]);
      items[r].push_back(x.items[k]);
      if (weighted) weights[r].push_back(x.weights.empty() ? 1.0f : x.weights[k]);
      if (rated) ratings[r].push_back(x.ratings[k]);
      if (timed) times[r].push_back(x.timestamps[k]);
    }
    for (std::size_t r = 0; r < ranks; ++r) {
      if (users[r].empty()) continue;
      const std::uint64_t header[2] = {s, users[r].size()};
      put(to[r], header, 2);
      put(to[r], users[r].data(), users[r].size());
      put(to[r], items[r].data(), items[r].size());
      if (weighted) put(to[r], weights[r].data(), weights[r].size());
      if (rated) put(to[r], ratings[r].data(), ratings[r].size());
      if (timed) put(to[r], times[r].data(), times[r].size());
    }
  }
  const std::vector<std::string> received = comm.alltoall(to);
  // Each received segment: its number, where its values start, its count.
  std::vector<std::tuple<std::uint64_t, const char*, std::uint64_t>> parts;
  std::size_t total = 0;
  for (const std::string& message : received) {
    const char* at = message.data();
    const char* end = message.data() + message.size();
    while (at < end) {
      std::uint64_t header[2];
      at = take(at, header, 2);
      parts.emplace_back(header[0], at, header[1]);
      total += header[1];
      at += header[1] * (2 * sizeof(std::int32_t) + (weighted ? sizeof(float) : 0) +
                         (rated ? sizeof(float) : 0) + (timed ? sizeof(std::int64_t) : 0));
    }
  }
  std::sort(parts.begin(), parts.end(),
            [](const auto& a, const auto& b) { return std::get<0>(a) < std::get<0>(b); });
  Interactions out;
  out.num_users = x.num_users;
  out.num_items = x.num_items;
  out.users.resize(total);
  out.items.resize(total);
  if (weighted) out.weights.resize(total);
  if (rated) out.ratings.resize(total);
  if (timed) out.timestamps.resize(total);
  std::size_t at = 0;
  for (const auto& [segment, bytes, n] : parts) {
    const char* p = take(bytes, out.users.data() + at, n);
    p = take(p, out.items.data() + at, n);
    if (weighted) p = take(p, out.weights.data() + at, n);
    if (rated) p = take(p, out.ratings.data() + at, n);
    if (timed) take(p, out.timestamps.data() + at, n);
    at += n;
  }
  return out;
}

}  // namespace

RowPartition RowPartition::balanced(Communicator& comm, std::int32_t rows,
                                    std::span<const std::int32_t> rows_of_pairs) {
  std::vector<std::int64_t> counts(static_cast<std::size_t>(rows), 0);
  for (const std::int32_t r : rows_of_pairs) ++counts[static_cast<std::size_t>(r)];
  comm.allreduce_sum(std::span<std::int64_t>(counts));
  std::int64_t total = 0;
  for (const auto c : counts) total += c;
  const int ranks = comm.size();
  RowPartition p;
  p.starts.assign(static_cast<std::size_t>(ranks) + 1, rows);
  p.starts[0] = 0;
  // Rank r's range ends where the running count first reaches (r + 1) /
  // ranks of the total.
  std::int64_t running = 0;
  int rank = 0;
  for (std::int32_t row = 0; row < rows && rank + 1 < ranks; ++row) {
    running += counts[static_cast<std::size_t>(row)];
    while (rank + 1 < ranks && running * ranks >= total * (rank + 1)) {
      p.starts[static_cast<std::size_t>(++rank)] = row + 1;
    }
  }
  return p;
}

int RowPartition::owner(std::int32_t row) const {
  const auto it = std::upper_bound(starts.begin(), starts.end(), std::int64_t{row});
  return static_cast<int>(it - starts.begin()) - 1;
}

Interactions owned_pairs(Communicator& comm, const RankPairs& mine, const RowPartition& partition,
                         PairKey key, bool with_ratings, bool with_timestamps) {
  const bool weighted = any_weights(comm, mine);
  const bool rated = with_ratings && comm.any_rank(!mine.pairs.ratings.empty());
  const std::vector<std::int32_t>& rows =
      key == PairKey::User ? mine.pairs.users : mine.pairs.items;
  return exchange(comm, mine, weighted, rated, with_timestamps,
                  [&](std::size_t k) { return partition.owner(rows[k]); });
}

Interactions gather_pairs(Communicator& comm, const RankPairs& mine, int root) {
  const bool weighted = any_weights(comm, mine);
  return exchange(comm, mine, weighted, false, false, [root](std::size_t) { return root; });
}

}  // namespace latent
