// HEAD: answered like GET without the content (RFC 9110 9.3.2). A body after
// a HEAD answer would be read by the client as the start of the next answer
// on the keep-alive connection.
#include <gtest/gtest.h>

#include <string>

#include "server/server_fixture.hpp"

namespace latent::test {
namespace {

// The Content-Length of the first answer in `text`, or -1.
long content_length(const std::string& text) {
  const auto at = text.find("Content-Length: ");
  if (at == std::string::npos) return -1;
  return std::stol(text.substr(at + 16));
}

TEST(ServerHead, HeadIsGetWithoutTheContentOnAKeepAliveConnection) {
  TempDir dir;
  save_version(dir / "movies", 1, tiny_model());
  TestServer server(dir / "movies");
  auto c = server.client();
  const Reply get_answer = get(c, "/healthz");
  ASSERT_EQ(get_answer.status, 200);

  const int fd = connect_loopback(server.port());
  ASSERT_GE(fd, 0);
  send_all(fd,
           "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
           "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const std::string text = receive_until(fd, [](const std::string&) { return false; });
  ::close(fd);
  // HEAD's answer: GET's status and length, no content; then GET's answer.
  const std::string head = "HTTP/1.1 200 OK\r\n";
  ASSERT_EQ(text.substr(0, head.size()), head) << text;
  EXPECT_EQ(content_length(text), static_cast<long>(get_answer.text.size())) << text;
  const auto head_end = text.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos);
  const std::string rest = text.substr(head_end + 4);
  ASSERT_EQ(rest.substr(0, head.size()), head) << "HEAD's answer had content: " << text;
  EXPECT_EQ(rest.substr(rest.find("\r\n\r\n") + 4), get_answer.text);
}

TEST(ServerHead, HeadOnAPostPathIs405WithoutContent) {
  TempDir dir;
  save_version(dir / "movies", 1, tiny_model());
  TestServer server(dir / "movies");
  const int fd = connect_loopback(server.port());
  ASSERT_GE(fd, 0);
  send_all(fd,
           "HEAD /v1/models/movies:predict HTTP/1.1\r\nHost: x\r\n\r\n"
           "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const std::string text = receive_until(fd, [](const std::string&) { return false; });
  ::close(fd);
  ASSERT_EQ(text.substr(0, 12), "HTTP/1.1 405") << text;
  EXPECT_NE(text.find("Allow: POST\r\n"), std::string::npos) << text;
  const std::string rest = text.substr(text.find("\r\n\r\n") + 4);
  EXPECT_EQ(rest.substr(0, 15), "HTTP/1.1 200 OK") << "HEAD's answer had content: " << text;
}

}  // namespace
}  // namespace latent::test
