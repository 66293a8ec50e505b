#pragma once
// The start-up check of a distributed run: before any rank reads data, every
// rank must be the same program, asked the same thing, seeing the same
// files. Ranks started from different builds, with different flags or on
// machines where a part file is missing would otherwise train a wrong model
// silently, or wait forever in a collective that another rank never reaches.

#include <string>
#include <vector>

#include <latent/communicator.hpp>

namespace latent {

struct RankFingerprint {
  // The executable's identity (binary_identity()).
  std::string binary;
  // The command line without the per-rank parts (none yet: every flag of a
  // distributed run must be the same on every rank).
  std::vector<std::string> flags;
  // The data files as the rank resolved them (the whole glob, in order, not
  // only its share): a part file missing on one rank shows up here.
  std::vector<std::string> files;
};

// XXH64 of this process's executable (/proc/self/exe) as 16 hex digits, so
// that two builds of one version differ; "unknown" where it cannot be read.
std::string binary_identity();

// Gathers every rank's fingerprint and compares it with rank 0's. Throws
// CollectiveError on every rank (the same message on each) naming what
// differs, the first rank that differs and both values, e.g. "the ranks
// disagree on their flags: rank 2 has --epochs 4 where rank 0 has --epochs
// 3". One process: returns at once.
void check_ranks_agree(Communicator& comm, const RankFingerprint& mine);

}  // namespace latent
