// Byte strings and the one wire encoding mpay uses everywhere (signer frames,
// the bytes that are signed, MACed and sealed): big-endian integers and
// fields prefixed by a u16 big-endian length. Parsing goes through a cursor
// (like BoringSSL's CBS): every read checks the remaining length first.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mpay {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

inline ByteView asBytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline std::string_view asText(ByteView b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
inline Bytes toBytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

std::string hexEncode(ByteView bytes);

class ByteWriter {
 public:
  ByteWriter& u8(std::uint8_t v);
  ByteWriter& u16(std::uint16_t v);
  ByteWriter& u32(std::uint32_t v);
  ByteWriter& u64(std::uint64_t v);
  ByteWriter& raw(ByteView bytes);
  // u16 length, then the bytes. A field above 65535 bytes is a caller bug:
  // the process aborts rather than send a frame that parses as something else.
  ByteWriter& field(ByteView bytes);
  ByteWriter& field(std::string_view text) { return field(asBytes(text)); }
  const Bytes& bytes() const { return out_; }
  Bytes take() { return std::move(out_); }

 private:
  Bytes out_;
};

class ByteReader {
 public:
  explicit ByteReader(ByteView in) : in_(in) {}
  bool u8(std::uint8_t* out);
  bool u16(std::uint16_t* out);
  bool u32(std::uint32_t* out);
  bool u64(std::uint64_t* out);
  bool raw(std::size_t n, ByteView* out);
  // A u16-length-prefixed field of at most max_len bytes.
  bool field(ByteView* out, std::size_t max_len);
  // Same, but the field must be exactly len bytes long.
  bool fixedField(ByteView* out, std::size_t len);
  bool text(std::string* out, std::size_t max_len);
  bool empty() const { return in_.empty(); }
  std::size_t remaining() const { return in_.size(); }

 private:
  ByteView in_;
};

}  // namespace mpay
