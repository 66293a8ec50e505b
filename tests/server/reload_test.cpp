// Hot reload: a new version folder is loaded fully and swapped in while
// clients keep sending requests (none fails, answers switch to the new
// version); a corrupt new version is reported in the status while the old
// one keeps serving, and is retried once its file changes; the same at
// start-up, when the newest version fails to load.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>

#include "server/server_fixture.hpp"

namespace latent::test {
namespace {

using nlohmann::json;

// Version 1's and version 2's answer to one predict request, from the
// library, as the output_2 list the server returns.
json expected_items(const std::filesystem::path& file, const std::string& user) {
  const Recommender model = Recommender::load(file);
  const std::int32_t row = model.user_row(user);
  const TopK top = model.recommend(std::span(&row, 1), 10, false);
  json items = json::array();
  for (int r = 0; r < top.k && top.items[static_cast<std::size_t>(r)] >= 0; ++r) {
    items.push_back(std::string(model.item_id(top.items[static_cast<std::size_t>(r)])));
  }
  return items;
}

TEST(HotReload, NewVersionUnderLoadWithoutAFailedRequest) {
  TempDir dir;
  const auto base = dir / "movies";
  const auto v1_file = save_version(base, 1, tiny_model("als"));
  TestServer server(base);
  server.store().start_polling(std::chrono::milliseconds(20));
  const json v1 = expected_items(v1_file, "u1");

  // Written beside the base path, then moved in whole: the store must also
  // cope with folders filled in place, which the corrupt-version test covers.
  const auto staging = dir / "staging";
  const auto v2_file_staged = save_version(staging, 2, tiny_model("popularity"));
  const json v2 = expected_items(v2_file_staged, "u1");
  ASSERT_NE(v1, v2) << "the two versions must answer differently for the test to mean anything";

  constexpr int kClients = 4;
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0}, wrong{0}, went_back{0};
  std::atomic<int> v1_answers{0}, v2_answers{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t) {
    clients.emplace_back([&] {
      auto c = server.client();
      bool seen_v2 = false;
      while (!stop) {
        const Reply r = post(c, "/v1/models/movies:predict", R"({"instances": ["u1"]})");
        if (r.status != 200) {
          ++failures;
          continue;
        }
        const json& items = r.body["predictions"][0]["output_2"];
        if (items == v2) {
          seen_v2 = true;
          ++v2_answers;
        } else if (items == v1) {
          ++v1_answers;
          if (seen_v2) ++went_back;
        } else {
          ++wrong;
        }
      }
    });
  }
  // Clients get answers from version 1 first.
  const bool served_v1 = eventually([&] { return v1_answers.load() >= 50; });
  std::filesystem::rename(staging / "2", base / "2");
  const bool switched = eventually([&] { return v2_answers.load() >= 200; });
  stop = true;
  for (auto& t : clients) t.join();
  ASSERT_TRUE(served_v1) << "no answers from version 1";
  ASSERT_TRUE(switched) << "answers never switched to version 2";
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(went_back.load(), 0) << "a client saw version 1 again after version 2";

  auto c = server.client();
  const Reply status = get(c, "/v1/models/movies");
  ASSERT_EQ(status.status, 200);
  const json want = json::parse(R"({"model_version_status": [
      {"version": "2", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}},
      {"version": "1", "state": "END", "status": {"error_code": "OK", "error_message": ""}}]})");
  EXPECT_EQ(status.body, want);
  EXPECT_EQ(get(c, "/v1/models/movies/versions/1/metadata").status, 404);
  EXPECT_EQ(get(c, "/v1/models/movies/versions/2/metadata").status, 200);
}

TEST(HotReload, CorruptVersionKeepsTheOldOneServingAndShowsTheError) {
  TempDir dir;
  const auto base = dir / "movies";
  const auto v1_file = save_version(base, 1, tiny_model("als"));
  TestServer server(base);
  const json v1 = expected_items(v1_file, "u1");

  // Version 2: a model file whose bytes were damaged after it was written.
  std::filesystem::create_directories(base / "2");
  std::string bytes = read_bytes(v1_file);
  bytes[bytes.size() - 3] ^= 0x5a;
  write_bytes(base / "2" / "model.latent", bytes);
  server.store().poll();

  auto c = server.client();
  const Reply predict = post(c, "/v1/models/movies:predict", R"({"instances": ["u1"]})");
  ASSERT_EQ(predict.status, 200) << predict.text;
  EXPECT_EQ(predict.body["predictions"][0]["output_2"], v1);

  const Reply status = get(c, "/v1/models/movies");
  ASSERT_EQ(status.status, 200);
  const json& versions = status.body["model_version_status"];
  ASSERT_EQ(versions.size(), 2u) << status.text;
  EXPECT_EQ(versions[0]["version"], "2");
  EXPECT_EQ(versions[0]["state"], "END");
  EXPECT_EQ(versions[0]["status"]["error_code"], "DATA_LOSS");
  const std::string message = versions[0]["status"]["error_message"];
  EXPECT_NE(message.find("model.latent"), std::string::npos) << message;
  EXPECT_NE(message.find("checksum"), std::string::npos) << message;
  EXPECT_EQ(versions[1]["version"], "1");
  EXPECT_EQ(versions[1]["state"], "AVAILABLE");
  EXPECT_EQ(get(c, "/healthz").status, 200);

  // Polling again does not reload (or log) the same broken file.
  server.store().poll();
  EXPECT_EQ(server.store().counters("movies").loads_failed, 1);

  // Fixed in place: the changed file is loaded and served.
  const auto v2_fixed = dir / "fixed.latent";
  tiny_model("popularity").save(v2_fixed);
  std::filesystem::copy_file(v2_fixed, base / "2" / "model.latent",
                             std::filesystem::copy_options::overwrite_existing);
  server.store().poll();
  const Reply after = post(c, "/v1/models/movies:predict", R"({"instances": ["u1"]})");
  ASSERT_EQ(after.status, 200);
  EXPECT_EQ(after.body["predictions"][0]["output_2"], expected_items(v2_fixed, "u1"));
  EXPECT_EQ(get(c, "/v1/models/movies").body["model_version_status"][0]["state"], "AVAILABLE");

  // An empty version folder (a copy not yet started) is reported, not served.
  std::filesystem::create_directories(base / "3");
  server.store().poll();
  const json three = get(c, "/v1/models/movies/versions/3").body["model_version_status"][0];
  EXPECT_EQ(three["status"]["error_code"], "NOT_FOUND");
  EXPECT_EQ(post(c, "/v1/models/movies/versions/2:predict", R"({"instances": ["u1"]})").status,
            200);
}

// At start-up as during hot reload: the newest version folder is empty (a
// copy not yet started) or holds a damaged file; the next version serves,
// the failed one is in the status with its error and is retried once its
// file changes.
TEST(StartUp, ABadNewestVersionLeavesTheHighestVersionThatLoadsServing) {
  const struct {
    const char* what;
    bool write_file;  // false: an empty folder
    const char* error_code;
    const char* message_part;
  } cases[] = {
      {"empty folder", false, "NOT_FOUND", "no *.latent model file"},
      {"corrupt file", true, "DATA_LOSS", "checksum"},
  };
  for (const auto& bad : cases) {
    SCOPED_TRACE(bad.what);
    TempDir dir;
    const auto base = dir / "movies";
    const auto v1_file = save_version(base, 1, tiny_model("als"));
    std::filesystem::create_directories(base / "2");
    if (bad.write_file) {
      std::string bytes = read_bytes(v1_file);
      bytes[bytes.size() - 3] ^= 0x5a;
      write_bytes(base / "2" / "model.latent", bytes);
    }
    TestServer server(base);
    auto c = server.client();
    EXPECT_EQ(get(c, "/healthz").status, 200);
    const Reply predict = post(c, "/v1/models/movies:predict", R"({"instances": ["u1"]})");
    ASSERT_EQ(predict.status, 200) << predict.text;
    EXPECT_EQ(predict.body["predictions"][0]["output_2"], expected_items(v1_file, "u1"));

    const Reply status = get(c, "/v1/models/movies");
    ASSERT_EQ(status.status, 200);
    const json& versions = status.body["model_version_status"];
    ASSERT_EQ(versions.size(), 2u) << status.text;
    EXPECT_EQ(versions[0]["version"], "2");
    EXPECT_EQ(versions[0]["state"], "END");
    EXPECT_EQ(versions[0]["status"]["error_code"], bad.error_code);
    const std::string message = versions[0]["status"]["error_message"];
    EXPECT_NE(message.find(bad.message_part), std::string::npos) << message;
    EXPECT_EQ(versions[1]["version"], "1");
    EXPECT_EQ(versions[1]["state"], "AVAILABLE");
    EXPECT_EQ(server.store().counters("movies").served_version, 1);
    EXPECT_EQ(server.store().counters("movies").loads_failed, 1);

    // Polling again neither reloads nor logs the unchanged failure.
    const std::size_t logged = server.logs().size();
    server.store().poll();
    EXPECT_EQ(server.logs().size(), logged);
    EXPECT_EQ(server.store().counters("movies").loads_failed, 1);

    // A good file in version 2 is picked up.
    const auto v2_file = dir / "v2.latent";
    tiny_model("popularity").save(v2_file);
    std::filesystem::copy_file(v2_file, base / "2" / "model.latent",
                               std::filesystem::copy_options::overwrite_existing);
    server.store().poll();
    const Reply after = post(c, "/v1/models/movies:predict", R"({"instances": ["u1"]})");
    ASSERT_EQ(after.status, 200);
    EXPECT_EQ(after.body["predictions"][0]["output_2"], expected_items(v2_file, "u1"));
    EXPECT_EQ(get(c, "/v1/models/movies").body["model_version_status"][0]["state"], "AVAILABLE");
  }
}

TEST(StartUp, NoVersionServesWhenNoneLoads) {
  TempDir dir;
  const auto base = dir / "movies";
  std::filesystem::create_directories(base / "1");
  std::filesystem::create_directories(base / "2");
  TestServer server(base);
  auto c = server.client();
  EXPECT_EQ(get(c, "/healthz").status, 503);
  const json versions = get(c, "/v1/models/movies").body["model_version_status"];
  ASSERT_EQ(versions.size(), 2u) << versions;
  EXPECT_EQ(versions[0]["status"]["error_code"], "NOT_FOUND");
  EXPECT_EQ(versions[1]["status"]["error_code"], "NOT_FOUND");
}

// Writes `bytes` over `path` in place as cp does: open(O_TRUNC), then
// writes of `chunk` bytes, so a reader can see the file empty or partly
// written, on the same inode.
void rewrite_in_place(const std::filesystem::path& path, const std::string& bytes,
                      std::size_t chunk = 4096) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0) << path;
  for (std::size_t at = 0; at < bytes.size(); at += chunk) {
    const std::size_t n = std::min(chunk, bytes.size() - at);
    ASSERT_EQ(::write(fd, bytes.data() + at, n), static_cast<ssize_t>(n));
    std::this_thread::yield();
  }
  ::close(fd);
}

// The SIGBUS of issue 11: version files rewritten in place while the poller
// reads them (a failing version 2 over and over, truncated, corrupt or
// empty; the served version 1 with its own bytes again, as a `cp` over it
// would) and requests are served. The server stays up, every answer is a
// 200 from version 1, and the final valid version 2 is served, also when
// it is copied over a failed file of the same size with its modification
// time kept (`cp -p`, `rsync -t`).
TEST(HotReload, VersionFilesRewrittenInPlaceWhileServing) {
  TempDir dir;
  const auto base = dir / "movies";
  const auto v1_file = save_version(base, 1, tiny_model("als"));
  const std::string v1_bytes = read_bytes(v1_file);
  const json v1 = expected_items(v1_file, "u1");
  const auto final_file = dir / "final.latent";
  tiny_model("popularity").save(final_file);
  const std::string final_bytes = read_bytes(final_file);
  const json final_items = expected_items(final_file, "u1");
  ASSERT_NE(v1, final_items);
  std::string corrupt = final_bytes;  // same size as the final file
  corrupt[corrupt.size() - 3] ^= 0x5a;
  const std::vector<std::string> broken = {corrupt, final_bytes.substr(0, final_bytes.size() / 2),
                                           std::string()};

  TestServer server(base);
  server.store().start_polling(std::chrono::milliseconds(1));
  const auto v2_file = base / "2" / "model.latent";
  std::filesystem::create_directories(v2_file.parent_path());

  std::atomic<bool> stop{false};
  std::atomic<int> answers{0}, failures{0}, wrong{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 3; ++t) {
    clients.emplace_back([&] {
      auto c = server.client();
      while (!stop) {
        const Reply r = post(c, "/v1/models/movies:predict", R"({"instances": ["u1"]})");
        if (r.status != 200) {
          ++failures;
        } else if (r.body["predictions"][0]["output_2"] != v1) {
          ++wrong;
        }
        ++answers;
      }
    });
  }
  constexpr int kRewrites = 300;
  for (int i = 0; i < kRewrites; ++i) {
    rewrite_in_place(v2_file, broken[static_cast<std::size_t>(i) % broken.size()], 512);
    rewrite_in_place(v1_file, v1_bytes, 1024);
  }
  const bool served = eventually([&] { return answers.load() >= 2 * kRewrites; });
  stop = true;
  for (auto& t : clients) t.join();
  ASSERT_TRUE(served) << "requests stalled";
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GE(server.store().counters("movies").loads_failed, 1);
  EXPECT_EQ(server.store().counters("movies").served_version, 1);

  // The corrupt file, seen failing; then the good one copied over it keeping
  // its size and modification time. Polled by hand, so that no poll sees
  // the copy half done.
  server.store().stop_polling();
  rewrite_in_place(v2_file, corrupt);
  server.store().poll();
  const auto failed = server.store().status("movies");
  ASSERT_EQ(failed[0].error_code, "DATA_LOSS") << failed[0].error_message;
  ASSERT_NE(failed[0].error_message.find("checksum"), std::string::npos) << failed[0].error_message;
  struct stat before {};
  ASSERT_EQ(::stat(v2_file.c_str(), &before), 0);
  rewrite_in_place(v2_file, final_bytes);
  const timespec times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, v2_file.c_str(), times, 0), 0);
  server.store().poll();

  auto c = server.client();
  const Reply r = post(c, "/v1/models/movies:predict", R"({"instances": ["u1"]})");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body["predictions"][0]["output_2"], final_items)
      << "the final version 2 is not served: " << get(c, "/v1/models/movies").text;
  EXPECT_EQ(get(c, "/v1/models/movies").body["model_version_status"][0]["state"], "AVAILABLE");
}

TEST(HotReload, RemovingTheNewestFolderRollsBack) {
  TempDir dir;
  const auto base = dir / "movies";
  const auto v1_file = save_version(base, 1, tiny_model("als"));
  save_version(base, 2, tiny_model("popularity"));
  TestServer server(base);
  auto c = server.client();
  EXPECT_EQ(get(c, "/v1/models/movies").body["model_version_status"][0]["version"], "2");
  std::filesystem::remove_all(base / "2");
  server.store().poll();
  const Reply r = post(c, "/v1/models/movies:predict", R"({"instances": ["u1"]})");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body["predictions"][0]["output_2"], expected_items(v1_file, "u1"));
}

}  // namespace
}  // namespace latent::test

namespace latent::test {
namespace {

bool logged(const TestServer& server, const std::string& part) {
  for (const auto& line : server.logs()) {
    if (line.find(part) != std::string::npos) return true;
  }
  return false;
}

// A version's index (model.latent.index beside model.latent) is loaded with
// it and searched; a damaged one is logged, and that version serves from the
// exact search instead of failing.
TEST(HotReload, AVersionsIndexIsServedAndADamagedOneFallsBackToExact) {
  TempDir dir;
  const auto base = dir / "movies";
  Recommender indexed = tiny_model("als");
  HnswParams params;
  params.threads = 1;
  indexed.build_index(params);
  const auto v1_file = save_version(base, 1, indexed);
  ASSERT_TRUE(std::filesystem::exists(index_path_for(v1_file)));
  TestServer server(base);
  EXPECT_TRUE(
      logged(server, "version 1 is serving (" + v1_file.string() + "), hnsw index (ef 64)"));
  auto c = server.client();
  Reply predict = post(c, "/v1/models/movies:predict", R"({"instances": ["u1"]})");
  ASSERT_EQ(predict.status, 200) << predict.text;
  EXPECT_EQ(predict.body["predictions"][0]["output_2"], expected_items(v1_file, "u1"));

  // Version 2: the same model, its index damaged after it was written.
  const auto v2_file = save_version(base, 2, indexed);
  std::string bytes = read_bytes(index_path_for(v2_file));
  bytes[bytes.size() / 2] ^= 0x5a;
  write_bytes(index_path_for(v2_file), bytes);
  server.store().poll();
  EXPECT_TRUE(logged(server, "version 2 is serving (" + v2_file.string() +
                                 "), replacing version 1, searching every item: its index is "
                                 "not used: "))
      << fmt::format("{}", fmt::join(server.logs(), "\n"));
  EXPECT_TRUE(logged(server, "checksum mismatch"));
  predict = post(c, "/v1/models/movies:predict", R"({"instances": ["u1"]})");
  ASSERT_EQ(predict.status, 200) << predict.text;
  Recommender exact = Recommender::load(v2_file);
  exact.drop_index();
  const std::int32_t row = exact.user_row("u1");
  const TopK top = exact.recommend(std::span(&row, 1), 10, false);
  EXPECT_EQ(predict.body["predictions"][0]["output_2"].size(),
            static_cast<std::size_t>(std::count_if(top.items.begin(), top.items.end(),
                                                   [](std::int32_t i) { return i >= 0; })));
  EXPECT_EQ(predict.body["predictions"][0]["output_2"], expected_items(v2_file, "u1"));
}

}  // namespace
}  // namespace latent::test
