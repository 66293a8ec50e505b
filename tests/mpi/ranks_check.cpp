// The collectives of a distributed run, checked on every rank of a real
// mpirun (tests/CMakeLists.txt runs it with 2 and 3 ranks, oversubscribed).
//   ranks_check collectives   sums, allgather, broadcast, barrier, and a
//                             sum whose lengths differ (one error on every rank)
//   ranks_check vocabulary    agree_vocabulary equals Vocabulary::from_ids of all ids
//   ranks_check mismatch      the last rank has other flags: one error, exit 1
//   ranks_check missing-file  the last rank lacks a part file: one error, exit 1
//   ranks_check throw         the last rank throws alone while the others wait
//                             in a barrier: every rank stops (MPI_Abort)
//   ranks_check die           the last rank is killed (SIGKILL) while the
//                             others wait in a barrier: mpirun stops them
// A failed check throws, and run_on_every_rank stops every rank: nonzero exit.
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <latent/collective_vocabulary.hpp>
#include <latent/communicator.hpp>
#include <latent/rank_agreement.hpp>

namespace {

using latent::Communicator;

void check(bool ok, const std::string& what) {
  if (!ok) throw std::logic_error("check failed: " + what);
}

template <class T>
void check_sum(Communicator& comm) {
  // Values that make the order of additions visible in float: rank r adds
  // 10^(r % 3 * 4) * (i + 1) / 3, and the expected sum adds them in rank order.
  const std::size_t n = 5;
  const auto value = [](int r, std::size_t i) {
    T scale = 1;
    for (int k = 0; k < r % 3 * 4; ++k) scale *= 10;
    return scale * static_cast<T>(i + 1) / 3;
  };
  std::vector<T> mine(n), expected(n);
  for (std::size_t i = 0; i < n; ++i) {
    mine[i] = value(comm.rank(), i);
    T sum = value(0, i);
    for (int r = 1; r < comm.size(); ++r) sum += value(r, i);
    expected[i] = sum;
  }
  comm.allreduce_sum(std::span<T>(mine));
  check(mine == expected, fmt::format("sum {} == {}", mine, expected));
}

// start_sum / finish_sum give allreduce_sum's sums bit for bit, for lengths
// that leave some ranks' ranges empty.
void check_split_sum(Communicator& comm) {
  for (const std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{1000}}) {
    std::vector<float> mine(n);
    for (std::size_t i = 0; i < n; ++i) {
      mine[i] = static_cast<float>(i + 1) / 3 * static_cast<float>(1 << (comm.rank() % 3 * 7));
    }
    std::vector<float> expected(mine);
    comm.allreduce_sum(std::span<float>(expected));
    comm.start_sum(std::span<float>(mine));
    comm.finish_sum();
    check(mine == expected, fmt::format("{} values: start_sum/finish_sum {} == allreduce_sum {}", n,
                                        n <= 7 ? mine : std::vector<float>{},
                                        n <= 7 ? expected : std::vector<float>{}));
  }
  bool threw = false;
  try {
    comm.finish_sum();
  } catch (const latent::Error&) {
    threw = true;
  }
  check(threw, "finish_sum without start_sum throws");
}

void collectives(Communicator& comm) {
  check(comm.distributed(), fmt::format("distributed with {} ranks", comm.size()));
  check_sum<float>(comm);
  check_split_sum(comm);
  check_sum<double>(comm);
  std::vector<std::int64_t> counts{comm.rank(), 1, std::int64_t{1} << 40};
  comm.allreduce_sum(std::span<std::int64_t>(counts));
  const std::int64_t n = comm.size();
  check(counts == std::vector<std::int64_t>{n * (n - 1) / 2, n, n << 40},
        fmt::format("int64 sums {}", counts));
  // Longer than one block of the rank-ordered sum (8 MiB of doubles).
  std::vector<double> big((std::size_t{8} << 20) / sizeof(double) + 3, 1.0);
  big.back() = comm.rank();
  comm.allreduce_sum(std::span<double>(big));
  check(big.front() == static_cast<double>(n) && big[big.size() - 2] == static_cast<double>(n) &&
            big.back() == static_cast<double>(n * (n - 1) / 2),
        "a sum of several blocks");

  const std::vector<std::string> all =
      comm.allgather(std::string(static_cast<std::size_t>(comm.rank()), 'x') + "rank");
  check(static_cast<int>(all.size()) == comm.size(), "allgather size");
  for (int r = 0; r < comm.size(); ++r) {
    check(
        all[static_cast<std::size_t>(r)] == std::string(static_cast<std::size_t>(r), 'x') + "rank",
        fmt::format("allgather[{}] = {}", r, all[static_cast<std::size_t>(r)]));
  }
  std::string bytes = comm.rank() == 1 ? std::string("from rank 1\0!", 13) : "";
  comm.broadcast(bytes, 1);
  check(bytes == std::string("from rank 1\0!", 13), "broadcast from rank 1");
  comm.barrier();

  // Ranks that pass sums of different lengths: every rank throws the same error.
  std::vector<float> uneven(static_cast<std::size_t>(comm.rank() == comm.size() - 1 ? 4 : 3));
  bool threw = false;
  try {
    comm.allreduce_sum(std::span<float>(uneven));
  } catch (const latent::CollectiveError& e) {
    threw =
        std::string(e.what()).find("rank 0 has 3 values, rank " + std::to_string(comm.size() - 1) +
                                   " has 4") != std::string::npos;
  }
  check(threw, "a sum of uneven lengths throws CollectiveError on every rank");
  comm.barrier();
}

// Rank r's share: every size()-th id from r on (and a repeat, and another
// spelling of an integer).
std::vector<std::string> share(const std::vector<std::string>& ids, const Communicator& comm) {
  std::vector<std::string> out;
  for (std::size_t i = static_cast<std::size_t>(comm.rank()); i < ids.size();
       i += static_cast<std::size_t>(comm.size())) {
    out.push_back(ids[i]);
  }
  if (!out.empty()) out.push_back(out.front());
  return out;
}

void check_agreed(Communicator& comm, const std::vector<std::string>& ids, const char* name) {
  const std::vector<std::string> mine = share(ids, comm);
  const latent::AgreedVocabulary agreed = latent::agree_vocabulary(comm, mine);
  const latent::Vocabulary one = latent::Vocabulary::from_ids(ids);
  check(agreed.vocabulary.kind() == one.kind(), fmt::format("{}: kind", name));
  check(std::vector<std::string>(agreed.vocabulary.ids().begin(), agreed.vocabulary.ids().end()) ==
            std::vector<std::string>(one.ids().begin(), one.ids().end()),
        fmt::format("{}: ids {} == {}", name, agreed.vocabulary.ids(), one.ids()));
  check(agreed.rows.size() == mine.size(), fmt::format("{}: one row per local id", name));
  for (std::size_t c = 0; c < mine.size(); ++c) {
    check(agreed.rows[c] == one.lookup(mine[c]) && agreed.rows[c] != latent::Vocabulary::kOov,
          fmt::format("{}: row of {}", name, mine[c]));
  }
  // The same on every rank: rank 0's ids broadcast and compared.
  std::string text = fmt::format("{}", fmt::join(agreed.vocabulary.ids(), "\n"));
  const std::string own = text;
  comm.broadcast(text, 0);
  check(text == own,
        fmt::format("{}: the same vocabulary on rank {} as on rank 0", name, comm.rank()));
}

void vocabulary(Communicator& comm) {
  // Integers in numeric order (10 after 9, -3 first), "007" is 7.
  check_agreed(comm, {"10", "9", "007", "-3", "7", "100", "2", "31", "5"}, "integers");
  // One string id among integers makes every id a string, sorted bytewise.
  check_agreed(comm, {"10", "9", "2", "b", "Zed", "10", "é", "a b"}, "strings");
  // A rank with no ids at all (only one id for three ranks).
  check_agreed(comm, {"42"}, "one id");
}

latent::RankFingerprint fingerprint() {
  return {latent::binary_identity(),
          {"train", "--model", "popularity", "--epochs", "3"},
          {"parts/a.csv", "parts/b.csv", "parts/c.csv"}};
}

void mismatch(Communicator& comm) {
  latent::RankFingerprint mine = fingerprint();
  if (comm.rank() == comm.size() - 1) mine.flags.back() = "4";
  latent::check_ranks_agree(comm, mine);
  throw std::logic_error("the ranks' different flags were not found");
}

void missing_file(Communicator& comm) {
  latent::RankFingerprint mine = fingerprint();
  if (comm.rank() == comm.size() - 1) mine.files.erase(mine.files.begin() + 1);
  latent::check_ranks_agree(comm, mine);
  throw std::logic_error("the missing part file was not found");
}

void throw_alone(Communicator& comm) {
  latent::check_ranks_agree(comm, fingerprint());  // the same: passes
  if (comm.rank() == comm.size() - 1) {
    throw latent::Error(latent::ErrorKind::Corruption, "parts/c.csv:3: a malformed row");
  }
  comm.barrier();  // never completes: the last rank is not coming
  throw std::logic_error("the barrier completed without the last rank");
}

void die_alone(Communicator& comm) {
  if (comm.rank() == comm.size() - 1) std::raise(SIGKILL);
  comm.barrier();  // never completes: the last rank is dead
  throw std::logic_error("the barrier completed without the last rank");
}

}  // namespace

int main(int argc, char** argv) {
  const std::string scenario = argc > 1 ? argv[1] : "";
  Communicator comm = Communicator::world(/*distributed=*/true);
  return latent::run_on_every_rank(
      comm,
      [&] {
        if (scenario == "collectives") {
          collectives(comm);
        } else if (scenario == "vocabulary") {
          vocabulary(comm);
        } else if (scenario == "mismatch") {
          mismatch(comm);
        } else if (scenario == "missing-file") {
          missing_file(comm);
        } else if (scenario == "throw") {
          throw_alone(comm);
        } else if (scenario == "die") {
          die_alone(comm);
        } else {
          throw std::logic_error("unknown scenario '" + scenario + "'");
        }
        std::printf("%s ok\n", scenario.c_str());
      },
      [](const std::string& message) {
        std::fprintf(stderr, "latent: error: %s\n", message.c_str());
        std::fflush(stderr);
      });
}
