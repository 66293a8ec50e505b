// The one-process Communicator (rank 0 of 1) and what builds on it; the MPI
// world is tested by tests/mpi under mpirun (label mpi).
#include <latent/collective_vocabulary.hpp>
#include <latent/communicator.hpp>
#include <latent/error.hpp>
#include <latent/rank_agreement.hpp>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace latent {
namespace {

// Sets an environment variable for one test, and puts it back.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(Communicator, OneProcessIsRankZeroOfOne) {
  Communicator comm;
  EXPECT_EQ(comm.rank(), 0);
  EXPECT_EQ(comm.size(), 1);
  EXPECT_FALSE(comm.distributed());
}

TEST(Communicator, WorldOutsideMpirunIsOneProcess) {
  ::unsetenv("OMPI_COMM_WORLD_SIZE");
  EXPECT_EQ(Communicator::launcher_size(), 0);
  const Communicator comm = Communicator::world();
  EXPECT_EQ(comm.size(), 1);
}

TEST(Communicator, MpirunOfOneRankIsOneProcessWithoutMpi) {
  const ScopedEnv env("OMPI_COMM_WORLD_SIZE", "1");
  EXPECT_EQ(Communicator::launcher_size(), 1);
  EXPECT_EQ(Communicator::world().size(), 1);
}

TEST(Communicator, LauncherSizeIgnoresWhatIsNotACount) {
  for (const char* text : {"", "x", "-2", "3x", "0"}) {
    const ScopedEnv env("OMPI_COMM_WORLD_SIZE", text);
    EXPECT_EQ(Communicator::launcher_size(), 0) << text;
  }
  const ScopedEnv env("OMPI_COMM_WORLD_SIZE", "12");
  EXPECT_EQ(Communicator::launcher_size(), 12);
}

TEST(Communicator, WithoutMpiADistributedRunSaysHowToGetIt) {
  if (Communicator::mpi_built()) GTEST_SKIP() << "this latent has MPI: tests/mpi runs it";
  {
    const ScopedEnv env("OMPI_COMM_WORLD_SIZE", "3");
    try {
      (void)Communicator::world();
      FAIL() << "no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Unsupported);
      EXPECT_STREQ(e.what(),
                   "this latent was built without MPI; install libopenmpi-dev and rebuild "
                   "(mpirun started 3 ranks)");
    }
  }
  ::unsetenv("OMPI_COMM_WORLD_SIZE");
  EXPECT_THROW((void)Communicator::world(/*distributed=*/true), Error);
}

TEST(Communicator, OneProcessCollectivesAreTheIdentity) {
  Communicator comm;
  std::vector<float> f{1.5f, -2.0f};
  comm.allreduce_sum(std::span<float>(f));
  EXPECT_EQ(f, (std::vector<float>{1.5f, -2.0f}));
  comm.start_sum(std::span<float>(f));
  comm.finish_sum();
  EXPECT_EQ(f, (std::vector<float>{1.5f, -2.0f}));
  std::vector<double> d{0.1, 0.2};
  comm.allreduce_sum(std::span<double>(d));
  EXPECT_EQ(d, (std::vector<double>{0.1, 0.2}));
  std::vector<std::int64_t> i{std::int64_t{1} << 50};
  comm.allreduce_sum(std::span<std::int64_t>(i));
  EXPECT_EQ(i[0], std::int64_t{1} << 50);
  EXPECT_EQ(comm.allgather(std::string("a\0b", 3)),
            (std::vector<std::string>{std::string("a\0b", 3)}));
  std::string bytes = "kept";
  comm.broadcast(bytes);
  EXPECT_EQ(bytes, "kept");
  comm.barrier();
}

TEST(Communicator, OneProcessErrorsPassThroughRunOnEveryRank) {
  Communicator comm;
  int reported = 0;
  const auto report = [&](const std::string&) { ++reported; };
  EXPECT_EQ(run_on_every_rank(
                comm, [] {}, report),
            0);
  EXPECT_THROW(run_on_every_rank(
                   comm, [] { throw Error(ErrorKind::NotFound, "x"); }, report),
               Error);
  EXPECT_EQ(reported, 0);
}

TEST(CollectiveVocabulary, OneProcessIsFromIds) {
  Communicator comm;
  const std::vector<std::string> ids{"10", "9", "007", "7", "10"};
  const AgreedVocabulary agreed = agree_vocabulary(comm, ids);
  const Vocabulary one = Vocabulary::from_ids(ids);
  EXPECT_EQ(agreed.vocabulary.kind(), Vocabulary::IdKind::Integer);
  ASSERT_EQ(agreed.vocabulary.num_known(), one.num_known());
  for (std::int32_t r = 1; r <= one.num_known(); ++r) EXPECT_EQ(agreed.vocabulary.id(r), one.id(r));
  EXPECT_EQ(agreed.rows, (std::vector<std::int32_t>{3, 2, 1, 1, 3}));
}

TEST(CollectiveVocabulary, RefusesAnIdThatCannotBeOne) {
  Communicator comm;
  EXPECT_THROW((void)agree_vocabulary(comm, {std::string("a\0b", 3)}), Error);
}

TEST(RankAgreement, OneProcessAgreesWithItself) {
  Communicator comm;
  EXPECT_NO_THROW(check_ranks_agree(comm, {binary_identity(), {"--x"}, {"a.csv"}}));
}

TEST(RankAgreement, BinaryIdentityIsAStableHash) {
  const std::string id = binary_identity();
  EXPECT_EQ(id.size(), 16u) << id;
  EXPECT_EQ(id, binary_identity());
}

}  // namespace
}  // namespace latent
