#include "query_batcher.hpp"

#include <algorithm>
#include <exception>

namespace latent::server {

struct QueryBatcher::Batch {
  std::shared_ptr<const Recommender> model;
  int k = 0;
  bool exclude_seen = false;
  std::vector<std::int32_t> rows;  // every member's rows, concatenated
  TopK result;
  std::exception_ptr error;
  bool done = false;
};

QueryBatcher::QueryBatcher(int threads, std::size_t max_queries)
    : threads_(threads),
      max_queries_(std::max<std::size_t>(max_queries, 1)),
      searcher_([this] { run(); }) {}

QueryBatcher::~QueryBatcher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_.notify_all();
  searcher_.join();
}

void QueryBatcher::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    work_.wait(lock, [this] { return stopping_ || !open_.empty(); });
    if (open_.empty()) return;  // stopping, nothing left
    const std::shared_ptr<Batch> batch = open_.front();
    open_.pop_front();  // from here on nobody joins it
    lock.unlock();
    try {
      RecommendOptions options;
      options.k = batch->k;
      options.exclude_seen = batch->exclude_seen;
      options.threads = threads_;
      batch->result = batch->model->recommend(batch->rows, options);
    } catch (...) {
      batch->error = std::current_exception();
    }
    lock.lock();
    batch->done = true;
    ++searches_;
    queries_ += batch->rows.size();
    finished_.notify_all();
  }
}

TopK QueryBatcher::recommend(const std::shared_ptr<const Recommender>& model,
                             std::span<const std::int32_t> user_rows, int k, bool exclude_seen) {
  std::unique_lock lock(mutex_);
  std::shared_ptr<Batch> batch;
  for (const auto& b : open_) {
    if (b->model == model && b->k == k && b->exclude_seen == exclude_seen &&
        b->rows.size() + user_rows.size() <= max_queries_) {
      batch = b;
      break;
    }
  }
  if (!batch) {
    batch = std::make_shared<Batch>();
    batch->model = model;
    batch->k = k;
    batch->exclude_seen = exclude_seen;
    open_.push_back(batch);
    work_.notify_one();
  }
  const std::size_t first = batch->rows.size();
  batch->rows.insert(batch->rows.end(), user_rows.begin(), user_rows.end());
  finished_.wait(lock, [&] { return batch->done; });
  lock.unlock();
  if (batch->error) std::rethrow_exception(batch->error);
  // This caller's rows of the merged answer.
  TopK mine;
  mine.queries = static_cast<std::int64_t>(user_rows.size());
  mine.k = batch->result.k;
  const auto width = static_cast<std::size_t>(mine.k);
  const auto begin = static_cast<std::ptrdiff_t>(first * width);
  const auto end = static_cast<std::ptrdiff_t>((first + user_rows.size()) * width);
  mine.items.assign(batch->result.items.begin() + begin, batch->result.items.begin() + end);
  mine.scores.assign(batch->result.scores.begin() + begin, batch->result.scores.begin() + end);
  return mine;
}

std::uint64_t QueryBatcher::searches() const {
  std::lock_guard lock(mutex_);
  return searches_;
}

std::uint64_t QueryBatcher::queries() const {
  std::lock_guard lock(mutex_);
  return queries_;
}

}  // namespace latent::server
