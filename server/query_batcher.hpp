#pragma once
// QueryBatcher: merges top-k requests that arrive while a search is running
// into one Recommender::recommend call, so concurrent single-user requests
// against a large catalog share one matrix-matrix search (one pass over
// the item vectors for the whole batch) instead of each streaming every
// item vector through memory on its own.
//
// One search thread runs the batches in arrival order, one at a time, with
// `threads` OpenMP threads; callers arriving while a batch runs join the next
// open batch and wait. (A search thread of its own rather than "the first
// caller runs it": libgomp keeps a thread pool per thread that starts
// parallel regions, so rotating callers would each grow a pool of spinning
// threads.) Requests only merge when model, k and exclude_seen match
// (allow/deny lists and fold-in are never merged). Answers are exactly what
// a direct recommend() call gives: top_k results do not depend on which
// other queries share the search.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include <latent/recommender.hpp>

namespace latent::server {

class QueryBatcher {
 public:
  // threads: for each merged search (0: all cores). max_queries: the most
  // user rows in one search.
  explicit QueryBatcher(int threads = 0, std::size_t max_queries = 1024);
  ~QueryBatcher();
  QueryBatcher(const QueryBatcher&) = delete;
  QueryBatcher& operator=(const QueryBatcher&) = delete;

  // model->recommend(user_rows, {k, exclude_seen}), possibly merged with
  // concurrent calls. Throws what recommend() throws.
  TopK recommend(const std::shared_ptr<const Recommender>& model,
                 std::span<const std::int32_t> user_rows, int k, bool exclude_seen);

  std::uint64_t searches() const;  // merged searches run
  std::uint64_t queries() const;   // user rows they answered

 private:
  struct Batch;
  void run();

  int threads_;
  std::size_t max_queries_;
  mutable std::mutex mutex_;
  std::condition_variable work_;             // the search thread waits for batches
  std::condition_variable finished_;         // callers wait for their batch
  std::deque<std::shared_ptr<Batch>> open_;  // not yet started, in arrival order
  bool stopping_ = false;
  std::uint64_t searches_ = 0;
  std::uint64_t queries_ = 0;
  std::thread searcher_;
};

}  // namespace latent::server
