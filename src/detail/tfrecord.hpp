#pragma once
// TensorBoard's wire format, written by hand (no protobuf dependency for
// three messages): TFRecord framing and the few fields of tensorflow.Event
// that a scalar log needs. Header-only because the build compiles src/*.cpp
// only; the unit tests check it against known vectors.
//
// A TFRecord is
//   uint64 length (little-endian)
//   uint32 masked CRC32C of those 8 bytes
//   length bytes of data
//   uint32 masked CRC32C of the data
// where masked(crc) = ((crc >> 15) | (crc << 17)) + 0xa282ead8.
//
// The Event fields written (tensorflow/core/util/event.proto,
// tensorflow/core/framework/summary.proto):
//   Event   { double wall_time = 1; int64 step = 2;
//             string file_version = 3; Summary summary = 5; }
//   Summary { repeated Value value = 1; }
//   Value   { string tag = 1; float simple_value = 2; }

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace latent::detail {

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), one table lookup
// per byte: event files are a few kilobytes, so no hardware path is needed.
inline constexpr std::array<std::uint32_t, 256> kCrc32cTable = [] {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int bit = 0; bit < 8; ++bit) c = (c & 1u) != 0 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    table[i] = c;
  }
  return table;
}();

inline std::uint32_t crc32c(std::string_view data) noexcept {
  std::uint32_t c = 0xFFFFFFFFu;
  for (const char ch : data) {
    c = kCrc32cTable[(c ^ static_cast<unsigned char>(ch)) & 0xFFu] ^ (c >> 8);
  }
  return ~c;
}

inline std::uint32_t masked_crc32c(std::string_view data) noexcept {
  const std::uint32_t c = crc32c(data);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

// Little-endian fixed-width integers (x86 and ARM Linux are little-endian;
// the static_assert keeps a big-endian port from writing wrong files).
static_assert(std::endian::native == std::endian::little, "TFRecord fields are little-endian");

template <typename T>
void append_fixed(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}

// One TFRecord holding `data`.
inline std::string tfrecord(std::string_view data) {
  std::string out;
  out.reserve(data.size() + 16);
  append_fixed<std::uint64_t>(out, data.size());
  append_fixed<std::uint32_t>(out, masked_crc32c(out));
  out.append(data);
  append_fixed<std::uint32_t>(out, masked_crc32c(data));
  return out;
}

// ---- protobuf encoding: the three wire types the Event fields use ----------

inline void append_varint(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

// Field key: field number << 3 | wire type (0 varint, 1 fixed64, 2 length
// delimited, 5 fixed32).
inline void append_key(std::string& out, int field, int wire_type) {
  append_varint(out,
                static_cast<std::uint64_t>(field) << 3 | static_cast<std::uint64_t>(wire_type));
}

inline void append_bytes_field(std::string& out, int field, std::string_view bytes) {
  append_key(out, field, 2);
  append_varint(out, bytes.size());
  out.append(bytes);
}

// An Event with its wall time (seconds since the epoch) and step; the
// caller appends its `what` field.
inline std::string event_header(double wall_time, std::int64_t step) {
  std::string out;
  append_key(out, 1, 1);
  append_fixed<double>(out, wall_time);
  if (step != 0) {  // proto3 leaves default values out
    append_key(out, 2, 0);
    append_varint(out, static_cast<std::uint64_t>(step));  // int64: two's complement
  }
  return out;
}

// Event { wall_time, file_version: version }: the first record of every
// event file ("brain.Event:2").
inline std::string file_version_event(double wall_time, std::string_view version) {
  std::string out = event_header(wall_time, 0);
  append_bytes_field(out, 3, version);
  return out;
}

// Event { wall_time, step, summary { value { tag, simple_value } } }.
inline std::string scalar_event(double wall_time, std::int64_t step, std::string_view tag,
                                float value) {
  std::string summary_value;
  append_bytes_field(summary_value, 1, tag);
  append_key(summary_value, 2, 5);
  append_fixed<float>(summary_value, value);
  std::string summary;
  append_bytes_field(summary, 1, summary_value);
  std::string out = event_header(wall_time, step);
  append_bytes_field(out, 5, summary);
  return out;
}

}  // namespace latent::detail
