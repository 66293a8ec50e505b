#include <latent/collective_vocabulary.hpp>

#include <cstring>

#include <latent/error.hpp>

namespace latent {

namespace {

// Each id as its length (4 bytes, this machine's order: every rank runs the
// same build, rank_agreement.hpp) and its bytes.
std::string encode(const std::vector<std::string>& ids) {
  std::size_t total = 0;
  for (const auto& id : ids) total += sizeof(std::uint32_t) + id.size();
  std::string out;
  out.reserve(total);
  for (const auto& id : ids) {
    const auto n = static_cast<std::uint32_t>(id.size());
    out.append(reinterpret_cast<const char*>(&n), sizeof n);
    out += id;
  }
  return out;
}

void decode_into(const std::string& bytes, std::vector<std::string>& ids) {
  std::size_t at = 0;
  while (at < bytes.size()) {
    std::uint32_t n = 0;
    std::memcpy(&n, bytes.data() + at, sizeof n);
    at += sizeof n;
    ids.emplace_back(bytes, at, n);
    at += n;
  }
}

}  // namespace

AgreedVocabulary agree_vocabulary(Communicator& comm, const std::vector<std::string>& local_ids) {
  AgreedVocabulary out;
  if (!comm.distributed()) {
    out.vocabulary = Vocabulary::from_ids(local_ids);
  } else {
    std::vector<std::string> all;
    for (const std::string& rank_ids : comm.allgather(encode(local_ids))) {
      decode_into(rank_ids, all);
    }
    try {
      out.vocabulary = Vocabulary::from_ids(std::move(all));
    } catch (const Error& e) {
      // Every rank has the same ids, so every rank fails here alike.
      throw CollectiveError(e.kind(), e.what());
    }
  }
  out.rows.reserve(local_ids.size());
  for (const auto& id : local_ids) out.rows.push_back(out.vocabulary.lookup(id));
  return out;
}

}  // namespace latent
