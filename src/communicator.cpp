#include <latent/communicator.hpp>

#include <algorithm>
#include <charconv>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include <fmt/format.h>

#ifdef LATENT_HAVE_MPI
#include <mpi.h>
#endif

namespace latent {

namespace {

int env_int(const char* name) noexcept {
  const char* text = std::getenv(name);
  if (text == nullptr) return 0;
  int value = 0;
  const std::string_view s(text);
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  return ec == std::errc() && end == s.data() + s.size() && value > 0 ? value : 0;
}

}  // namespace

bool Communicator::mpi_built() noexcept {
#ifdef LATENT_HAVE_MPI
  return true;
#else
  return false;
#endif
}

int Communicator::launcher_size() noexcept { return env_int("OMPI_COMM_WORLD_SIZE"); }

#ifdef LATENT_HAVE_MPI

namespace {

template <class T>
MPI_Datatype mpi_type();
template <>
MPI_Datatype mpi_type<float>() {
  return MPI_FLOAT;
}
template <>
MPI_Datatype mpi_type<double>() {
  return MPI_DOUBLE;
}
template <>
MPI_Datatype mpi_type<std::int64_t>() {
  return MPI_INT64_T;
}

// MPI counts are ints: larger messages go in pieces.
constexpr std::size_t kMaxPiece = std::size_t{1} << 30;

}  // namespace

class Communicator::Mpi {
 public:
  Mpi() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (initialized || finalized) {
      throw Error(ErrorKind::InvalidArgument,
                  "MPI's world was already made once in this process: make one Communicator");
    }
    // Only the main thread calls MPI; OpenMP's threads compute between calls.
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  }
  ~Mpi() { MPI_Finalize(); }
  Mpi(const Mpi&) = delete;
  Mpi& operator=(const Mpi&) = delete;

  // The sum between start_sum and finish_sum.
  struct PendingSum {
    std::span<float> values;
    std::vector<int> counts, displs;  // each rank's range of values
    // Each rank's count of this rank's range, and where it lands in
    // `received`. Kept here, as every array of a non-blocking collective
    // must be until it completes.
    std::vector<int> recv_counts, recv_displs;
    std::vector<float> received;  // every rank's values of this rank's range
    MPI_Request request = MPI_REQUEST_NULL;
    bool active = false;
  } pending;
};

Communicator Communicator::world(bool distributed) {
  const int launched = launcher_size();
  if (!distributed && launched <= 1) return Communicator();
  Communicator c;
  c.mpi_ = std::make_unique<Mpi>();
  MPI_Comm_rank(MPI_COMM_WORLD, &c.rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &c.size_);
  return c;
}

namespace {

// Every rank's n, checked equal: a rank with another length would make the
// gathers below read the wrong bytes, or wait forever.
void check_same_length(std::size_t n, int size, const char* what) {
  std::vector<std::int64_t> lengths(static_cast<std::size_t>(size));
  const auto mine = static_cast<std::int64_t>(n);
  MPI_Allgather(&mine, 1, MPI_INT64_T, lengths.data(), 1, MPI_INT64_T, MPI_COMM_WORLD);
  for (int r = 1; r < size; ++r) {
    if (lengths[static_cast<std::size_t>(r)] != lengths[0]) {
      throw CollectiveError(
          ErrorKind::InvalidArgument,
          fmt::format("the {} ranks disagree on the length of {}: rank 0 has {} values, rank {} "
                      "has {}",
                      size, what, lengths[0], r, lengths[static_cast<std::size_t>(r)]));
    }
  }
}

// Bytes a sum of n values of T sends from this rank: its values to rank 0,
// and on rank 0 the sums to every other rank.
template <class T>
std::uint64_t sum_traffic(std::size_t n, int rank, int size) {
  const std::uint64_t bytes = n * sizeof(T);
  return rank == 0 ? bytes * static_cast<std::uint64_t>(size - 1) : bytes;
}

template <class T>
void sum_in_rank_order(std::span<T> values, int rank, int size) {
  check_same_length(values.size(), size, "a sum");
  const std::size_t block =
      std::clamp<std::size_t>(values.size(), 1, (std::size_t{8} << 20) / sizeof(T));
  // Not zeroed (new T[], not a vector): MPI_Gather writes all of it, and a
  // small sum runs every training step.
  const std::unique_ptr<T[]> gathered(rank == 0 ? new T[block * static_cast<std::size_t>(size)]
                                                : nullptr);
  for (std::size_t start = 0; start < values.size(); start += block) {
    const std::size_t n = std::min(block, values.size() - start);
    T* mine = values.data() + start;
    MPI_Gather(mine, static_cast<int>(n), mpi_type<T>(), gathered.get(), static_cast<int>(n),
               mpi_type<T>(), 0, MPI_COMM_WORLD);
    if (rank == 0) {
      for (std::size_t i = 0; i < n; ++i) {
        T sum = gathered[i];
        for (int r = 1; r < size; ++r) sum += gathered[static_cast<std::size_t>(r) * n + i];
        mine[i] = sum;
      }
    }
    MPI_Bcast(mine, static_cast<int>(n), mpi_type<T>(), 0, MPI_COMM_WORLD);
  }
}

}  // namespace

void Communicator::allreduce_sum(std::span<float> values) {
  if (!mpi_) return;
  sum_in_rank_order(values, rank_, size_);
  bytes_sent_ += sum_traffic<float>(values.size(), rank_, size_);
}
void Communicator::allreduce_sum(std::span<double> values) {
  if (!mpi_) return;
  sum_in_rank_order(values, rank_, size_);
  bytes_sent_ += sum_traffic<double>(values.size(), rank_, size_);
}
void Communicator::allreduce_sum(std::span<std::int64_t> values) {
  if (!mpi_) return;
  sum_in_rank_order(values, rank_, size_);
  bytes_sent_ += sum_traffic<std::int64_t>(values.size(), rank_, size_);
}

void Communicator::start_sum(std::span<float> values) {
  if (!mpi_) return;
  auto& p = mpi_->pending;
  if (p.active) throw Error(ErrorKind::InvalidArgument, "start_sum: a sum is already running");
  if (values.size() > static_cast<std::size_t>(INT_MAX)) {
    throw Error(ErrorKind::Unsupported,
                fmt::format("start_sum of {} floats: at most {}", values.size(), INT_MAX));
  }
  const auto n = static_cast<std::size_t>(size_);
  const auto me = static_cast<std::size_t>(rank_);
  const auto length = static_cast<std::int64_t>(values.size());
  p.counts.resize(n);
  p.displs.resize(n);
  for (std::size_t r = 0; r < n; ++r) {
    const auto lo = length * static_cast<std::int64_t>(r) / size_;
    const auto hi = length * static_cast<std::int64_t>(r + 1) / size_;
    p.displs[r] = static_cast<int>(lo);
    p.counts[r] = static_cast<int>(hi - lo);
  }
  // Every rank sends this one its values of this one's range.
  const int mine = p.counts[me];
  p.recv_counts.assign(n, mine);
  p.recv_displs.resize(n);
  for (std::size_t r = 0; r < n; ++r) p.recv_displs[r] = static_cast<int>(r) * mine;
  p.received.resize(n * static_cast<std::size_t>(mine));
  p.values = values;
  MPI_Ialltoallv(values.data(), p.counts.data(), p.displs.data(), MPI_FLOAT, p.received.data(),
                 p.recv_counts.data(), p.recv_displs.data(), MPI_FLOAT, MPI_COMM_WORLD, &p.request);
  p.active = true;
}

void Communicator::finish_sum() {
  if (!mpi_) return;
  auto& p = mpi_->pending;
  if (!p.active) throw Error(ErrorKind::InvalidArgument, "finish_sum: no sum was started");
  MPI_Wait(&p.request, MPI_STATUS_IGNORE);
  p.active = false;
  const auto n = static_cast<std::size_t>(size_);
  const auto me = static_cast<std::size_t>(rank_);
  const auto mine = static_cast<std::size_t>(p.counts[me]);
  float* out = p.values.data() + p.displs[me];
  // In rank order, as allreduce_sum's rank 0 adds them.
  for (std::size_t i = 0; i < mine; ++i) {
    float sum = p.received[i];
    for (std::size_t r = 1; r < n; ++r) sum += p.received[r * mine + i];
    out[i] = sum;
  }
  MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, p.values.data(), p.counts.data(),
                 p.displs.data(), MPI_FLOAT, MPI_COMM_WORLD);
  bytes_sent_ += (p.values.size() - mine + mine * (n - 1)) * sizeof(float);
}

std::vector<std::string> Communicator::allgather(std::string_view mine) {
  if (!mpi_) return {std::string(mine)};
  const auto n = static_cast<std::size_t>(size_);
  std::vector<std::int64_t> lengths(n);
  const auto my_length = static_cast<std::int64_t>(mine.size());
  MPI_Allgather(&my_length, 1, MPI_INT64_T, lengths.data(), 1, MPI_INT64_T, MPI_COMM_WORLD);
  std::int64_t total = 0;
  for (const auto l : lengths) total += l;
  if (total > INT_MAX) {
    // Every rank sees the same lengths, so every rank throws.
    throw CollectiveError(ErrorKind::Unsupported,
                          fmt::format("an allgather of {} bytes over {} ranks: at most {} bytes "
                                      "go in one allgather",
                                      total, size_, INT_MAX));
  }
  std::vector<int> counts(n), displs(n);
  int offset = 0;
  for (std::size_t r = 0; r < n; ++r) {
    counts[r] = static_cast<int>(lengths[r]);
    displs[r] = offset;
    offset += counts[r];
  }
  std::string all(static_cast<std::size_t>(total), '\0');
  MPI_Allgatherv(mine.data(), static_cast<int>(mine.size()), MPI_BYTE, all.data(), counts.data(),
                 displs.data(), MPI_BYTE, MPI_COMM_WORLD);
  std::vector<std::string> out(n);
  for (std::size_t r = 0; r < n; ++r) {
    out[r] = all.substr(static_cast<std::size_t>(displs[r]), static_cast<std::size_t>(counts[r]));
  }
  bytes_sent_ += mine.size() * (n - 1);
  return out;
}

std::vector<std::string> Communicator::alltoall(const std::vector<std::string>& to_each) {
  const auto n = static_cast<std::size_t>(size_);
  if (to_each.size() != n) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("alltoall: {} messages for {} ranks", to_each.size(), n));
  }
  if (!mpi_) return to_each;
  // Every rank learns every length, so a too-large exchange fails on all.
  std::vector<std::int64_t> mine(n), all(n * n);
  for (std::size_t r = 0; r < n; ++r) mine[r] = static_cast<std::int64_t>(to_each[r].size());
  MPI_Allgather(mine.data(), static_cast<int>(n), MPI_INT64_T, all.data(), static_cast<int>(n),
                MPI_INT64_T, MPI_COMM_WORLD);
  for (std::size_t to = 0; to < n; ++to) {
    std::int64_t in = 0, out = 0;
    for (std::size_t from = 0; from < n; ++from) {
      in += all[from * n + to];
      out += all[to * n + from];
    }
    if (in > INT_MAX || out > INT_MAX) {
      throw CollectiveError(ErrorKind::Unsupported,
                            fmt::format("an exchange of {} bytes to and {} from rank {}: at most "
                                        "{} bytes go in one exchange; use more ranks",
                                        in, out, to, INT_MAX));
    }
  }
  std::vector<int> send_counts(n), send_displs(n), recv_counts(n), recv_displs(n);
  std::string send;
  int offset = 0;
  for (std::size_t r = 0; r < n; ++r) {
    send_counts[r] = static_cast<int>(to_each[r].size());
    send_displs[r] = offset;
    offset += send_counts[r];
    send += to_each[r];
  }
  offset = 0;
  for (std::size_t r = 0; r < n; ++r) {
    recv_counts[r] = static_cast<int>(all[r * n + static_cast<std::size_t>(rank_)]);
    recv_displs[r] = offset;
    offset += recv_counts[r];
  }
  std::string received(static_cast<std::size_t>(offset), '\0');
  MPI_Alltoallv(send.data(), send_counts.data(), send_displs.data(), MPI_BYTE, received.data(),
                recv_counts.data(), recv_displs.data(), MPI_BYTE, MPI_COMM_WORLD);
  std::vector<std::string> out(n);
  for (std::size_t r = 0; r < n; ++r) {
    out[r] = received.substr(static_cast<std::size_t>(recv_displs[r]),
                             static_cast<std::size_t>(recv_counts[r]));
    if (r != static_cast<std::size_t>(rank_)) bytes_sent_ += to_each[r].size();
  }
  return out;
}

void Communicator::allgather_ranges(std::span<float> values, std::span<const std::int64_t> starts) {
  const auto n = static_cast<std::size_t>(size_);
  if (starts.size() != n + 1 || starts.front() != 0 ||
      starts.back() != static_cast<std::int64_t>(values.size())) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("allgather_ranges: {} range starts for {} ranks over {} values",
                            starts.size(), n, values.size()));
  }
  if (!mpi_) return;
  check_same_length(values.size(), size_, "a gather of ranges");
  if (values.size() > static_cast<std::size_t>(INT_MAX)) {
    throw CollectiveError(
        ErrorKind::Unsupported,
        fmt::format("a gather of {} floats: at most {} go in one gather", values.size(), INT_MAX));
  }
  std::vector<int> counts(n), displs(n);
  for (std::size_t r = 0; r < n; ++r) {
    displs[r] = static_cast<int>(starts[r]);
    counts[r] = static_cast<int>(starts[r + 1] - starts[r]);
  }
  MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, values.data(), counts.data(), displs.data(),
                 MPI_FLOAT, MPI_COMM_WORLD);
  bytes_sent_ +=
      static_cast<std::uint64_t>(counts[static_cast<std::size_t>(rank_)]) * sizeof(float) * (n - 1);
}

void Communicator::broadcast(std::string& bytes, int root) {
  if (!mpi_) return;
  auto length = static_cast<std::int64_t>(bytes.size());
  MPI_Bcast(&length, 1, MPI_INT64_T, root, MPI_COMM_WORLD);
  bytes.resize(static_cast<std::size_t>(length));
  for (std::size_t start = 0; start < bytes.size(); start += kMaxPiece) {
    const std::size_t n = std::min(kMaxPiece, bytes.size() - start);
    MPI_Bcast(bytes.data() + start, static_cast<int>(n), MPI_BYTE, root, MPI_COMM_WORLD);
  }
  if (rank_ == root) bytes_sent_ += bytes.size() * static_cast<std::uint64_t>(size_ - 1);
}

void Communicator::barrier() {
  if (mpi_) MPI_Barrier(MPI_COMM_WORLD);
}

void Communicator::abort(int code) {
  if (mpi_) MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

#else  // one process only: no MPI in this build

class Communicator::Mpi {};

namespace {
constexpr std::string_view kNoMpi =
    "this latent was built without MPI; install libopenmpi-dev and rebuild";
}  // namespace

Communicator Communicator::world(bool distributed) {
  const int launched = launcher_size();
  if (distributed || launched > 1) {
    throw Error(ErrorKind::Unsupported,
                launched > 1 ? fmt::format("{} (mpirun started {} ranks)", kNoMpi, launched)
                             : fmt::format("{} (--distributed)", kNoMpi));
  }
  return Communicator();
}

void Communicator::allreduce_sum(std::span<float>) {}
void Communicator::allreduce_sum(std::span<double>) {}
void Communicator::allreduce_sum(std::span<std::int64_t>) {}
void Communicator::start_sum(std::span<float>) {}
void Communicator::finish_sum() {}
std::vector<std::string> Communicator::allgather(std::string_view mine) {
  return {std::string(mine)};
}
std::vector<std::string> Communicator::alltoall(const std::vector<std::string>& to_each) {
  if (to_each.size() != 1) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("alltoall: {} messages for 1 rank", to_each.size()));
  }
  return to_each;
}
void Communicator::allgather_ranges(std::span<float> values, std::span<const std::int64_t> starts) {
  if (starts.size() != 2 || starts.front() != 0 ||
      starts.back() != static_cast<std::int64_t>(values.size())) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("allgather_ranges: {} range starts for 1 rank over {} values",
                            starts.size(), values.size()));
  }
}
void Communicator::broadcast(std::string&, int) {}
void Communicator::barrier() {}
void Communicator::abort(int code) { std::exit(code); }

#endif

bool Communicator::any_rank(bool mine) {
  std::int64_t n = mine ? 1 : 0;
  allreduce_sum(std::span<std::int64_t>(&n, 1));
  return n > 0;
}

int run_on_every_rank(Communicator& comm, const std::function<void()>& body,
                      const std::function<void(const std::string&)>& report) {
  if (!comm.distributed()) {
    body();
    return 0;
  }
  try {
    body();
    return 0;
  } catch (const CollectiveError& e) {
    if (comm.rank() == 0) report(e.what());
    return 1;
  } catch (const std::exception& e) {
    report(fmt::format("rank {} of {}: {}", comm.rank(), comm.size(), e.what()));
  }
  std::fflush(stdout);
  std::fflush(stderr);
  comm.abort(1);
}

Communicator::Communicator() = default;
Communicator::~Communicator() = default;
Communicator::Communicator(Communicator&&) noexcept = default;
Communicator& Communicator::operator=(Communicator&&) noexcept = default;

}  // namespace latent
