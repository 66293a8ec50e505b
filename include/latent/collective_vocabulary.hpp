#pragma once
// Vocabularies of a distributed run: each rank knows the distinct ids of its
// share of the rows; every rank needs the one vocabulary of all of them, the
// same on every rank and the same as one process reading all the rows makes
// (Vocabulary::from_ids: numeric order when every id of every rank is an
// integer, bytewise otherwise), so that a model trained on N ranks has the
// rows of a model trained in one process.

#include <cstdint>
#include <string>
#include <vector>

#include <latent/communicator.hpp>
#include <latent/vocabulary.hpp>

namespace latent {

struct AgreedVocabulary {
  Vocabulary vocabulary;  // the same on every rank
  // The vocabulary row of each of this rank's ids: rows[c] is the row of
  // local_ids[c] (never kOov).
  std::vector<std::int32_t> rows;
};

// `local_ids`: this rank's distinct ids, in any order (duplicates and
// several spellings of one integer, "007" and "7", are allowed). Collective:
// every rank calls it. Each rank's ids go to every rank (an allgather,
// together at most 2 GiB of id text), and every rank builds the vocabulary
// from all of them. Throws CollectiveError on every rank for an id that
// cannot be one (id_problem), naming it.
AgreedVocabulary agree_vocabulary(Communicator& comm, const std::vector<std::string>& local_ids);

}  // namespace latent
