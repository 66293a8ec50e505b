#pragma once
// Communicator: the processes ("ranks") of one distributed training run and
// the few collectives its trainers need. Two implementations behind one
// type: one process alone (rank 0 of 1, every collective the identity), and
// MPI's world (Open MPI; this latent built with LATENT_MPI). Only
// src/communicator.cpp includes mpi.h.
//
// When a process is a rank of several (Communicator::world):
//   - under Open MPI's mpirun, which sets OMPI_COMM_WORLD_SIZE in every
//     rank's environment: MPI's world when that size is above 1 (mpirun -np
//     1 is one process, MPI or not);
//   - with `distributed` (the CLI's --distributed): MPI's world whatever the
//     environment, for launchers that set no Open MPI variable (Slurm's srun
//     --mpi=pmix) and to insist on it;
//   - otherwise one process, and MPI is never initialised.
// A latent built without MPI throws Unsupported in the first two cases
// ("this latent was built without MPI; install libopenmpi-dev and
// rebuild"), rather than run N copies that each train and write the file.
//
// Determinism: every sum is the same on every rank and depends only on the
// ranks' inputs and their number, never on MPI's choice of reduction
// algorithm. allreduce_sum gathers each block of the ranks' values on rank 0,
// which adds them in rank order (((x0 + x1) + x2) + ...), then broadcasts
// the sums. Integers (int64) are exact whatever the order; float and double
// sums are the same from run to run with the same number of ranks.
//
// Failure: MPI's default error handler stays (MPI_ERRORS_ARE_FATAL), so a
// rank that dies or a broken connection stops every rank. A collective whose
// ranks disagree on a size throws CollectiveError on every rank. Callers
// that catch an error on one rank only call abort(), which stops every rank
// (MPI_Abort): no rank waits forever for one that will never come.

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <latent/error.hpp>

namespace latent {

// An error that every rank raised together, at the same point, with the
// same message (a failed agreement check, ranks that passed different
// sizes): rank 0 reports it once and every rank exits, with no MPI_Abort.
class CollectiveError : public Error {
 public:
  using Error::Error;
};

class Communicator {
 public:
  // One process alone: rank 0 of 1.
  Communicator();
  ~Communicator();  // MPI's world: finalizes MPI
  Communicator(Communicator&&) noexcept;
  Communicator& operator=(Communicator&&) noexcept;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  // This run's ranks (see the top of this header). Initialises MPI at most
  // once per process. Throws Unsupported when this latent was built without
  // MPI and the run is distributed (by the environment or `distributed`).
  static Communicator world(bool distributed = false);

  // Whether this latent was built with MPI (LATENT_MPI).
  static bool mpi_built() noexcept;
  // The number of ranks Open MPI's launcher says this run has
  // (OMPI_COMM_WORLD_SIZE), or 0 when it was not launched by mpirun.
  static int launcher_size() noexcept;

  int rank() const noexcept { return rank_; }
  int size() const noexcept { return size_; }
  // More than one rank.
  bool distributed() const noexcept { return size_ > 1; }
  // Whether `mine` holds on some rank (an allreduce of one value). Collective.
  bool any_rank(bool mine);

  // Every rank passes `values` of the same length n; on return each holds the
  // elementwise sum over the ranks, added in rank order on rank 0 (see the
  // top). Memory: rank 0 holds size() blocks of at most 8 MiB at a time.
  // Throws CollectiveError on every rank when the lengths differ.
  void allreduce_sum(std::span<float> values);
  void allreduce_sum(std::span<double> values);
  void allreduce_sum(std::span<std::int64_t> values);

  // allreduce_sum of floats in two halves, so that a rank can go on
  // computing while the others catch up (a training step that is not
  // waited on until its sum is needed): start_sum hands `values` to the
  // collective and returns at once; finish_sum waits for every rank's and
  // leaves in `values` the sums allreduce_sum gives, bit for bit. Between
  // the two, `values` must not be read or written, and no other collective
  // may run. Each rank sums one range of the values (reduce-scatter, in rank
  // order) and the ranges are then gathered (allgather): every rank sends
  // about 2 (size() - 1) / size() of the values, rank 0 no more than the
  // others. Every rank must pass the same length, which is not checked here
  // (that would be one more round trip each step): a mismatch stops every
  // rank (MPI's error handler). At most INT_MAX values.
  void start_sum(std::span<float> values);
  void finish_sum();

  // Every rank's bytes, in rank order (result[r] is rank r's `mine`).
  std::vector<std::string> allgather(std::string_view mine);
  // Personal messages: to_each[r] goes to rank r (to_each has size()
  // entries); returns what each rank sent this one, in rank order. Throws
  // CollectiveError on every rank when a rank would receive more than
  // INT_MAX bytes in one exchange.
  std::vector<std::string> alltoall(const std::vector<std::string>& to_each);
  // `values` (the same length on every rank) is cut into ranges: rank r
  // owns [starts[r], starts[r + 1]) (starts has size() + 1 entries, from 0
  // to values.size()). On return every range holds its owner's values on
  // every rank. Throws CollectiveError on every rank for mismatched lengths.
  void allgather_ranges(std::span<float> values, std::span<const std::int64_t> starts);
  // `bytes` as rank `root` holds it, on every rank.
  void broadcast(std::string& bytes, int root = 0);
  void barrier();

  // The bytes this rank has sent to other ranks in collectives so far: what
  // a distributed trainer reports as its traffic. A sum counts what goes to
  // rank 0 and, on rank 0, the sums broadcast back.
  std::uint64_t bytes_sent() const noexcept { return bytes_sent_; }

  // Stops every rank with exit status `code` (MPI_Abort; one process: exit).
  // Print the error first: this says nothing.
  [[noreturn]] void abort(int code = 1);

 private:
  class Mpi;
  int rank_ = 0;
  int size_ = 1;
  std::uint64_t bytes_sent_ = 0;
  std::unique_ptr<Mpi> mpi_;  // null: one process
};

// How a command ends on every rank of a run: runs `body` and returns 0. One
// process: exceptions pass through, as without a Communicator. Several
// ranks: a CollectiveError (every rank has it) is given to `report` on rank
// 0 only and every rank returns 1 (then finalizes MPI as it ends); any other
// exception, which this rank alone may have, is given to `report` as "rank R
// of N: what" and abort(1) stops every rank, so none waits in a collective
// for this one. `report` prints one line (the CLI's "latent: error: ...").
int run_on_every_rank(Communicator& comm, const std::function<void()>& body,
                      const std::function<void(const std::string&)>& report);

}  // namespace latent
