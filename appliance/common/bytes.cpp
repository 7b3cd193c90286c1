#include "common/bytes.h"

#include <cstdio>
#include <cstdlib>

namespace mpay {

std::string hexEncode(ByteView bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0f]);
  }
  return out;
}

ByteWriter& ByteWriter::u8(std::uint8_t v) {
  out_.push_back(v);
  return *this;
}
ByteWriter& ByteWriter::u16(std::uint16_t v) {
  return u8(static_cast<std::uint8_t>(v >> 8)).u8(static_cast<std::uint8_t>(v));
}
ByteWriter& ByteWriter::u32(std::uint32_t v) {
  return u16(static_cast<std::uint16_t>(v >> 16)).u16(static_cast<std::uint16_t>(v));
}
ByteWriter& ByteWriter::u64(std::uint64_t v) {
  return u32(static_cast<std::uint32_t>(v >> 32)).u32(static_cast<std::uint32_t>(v));
}
ByteWriter& ByteWriter::raw(ByteView bytes) {
  out_.insert(out_.end(), bytes.begin(), bytes.end());
  return *this;
}
ByteWriter& ByteWriter::field(ByteView bytes) {
  // A longer field would go out with its length cut to 16 bits and its tail
  // read as the fields after it. Every caller bounds its fields below this;
  // one that does not is a bug, and the process stops rather than frame it.
  if (bytes.size() > 0xffff) {
    std::fputs("mpay: ByteWriter::field over 65535 bytes\n", stderr);
    std::abort();
  }
  return u16(static_cast<std::uint16_t>(bytes.size())).raw(bytes);
}

bool ByteReader::raw(std::size_t n, ByteView* out) {
  if (in_.size() < n) return false;
  *out = in_.first(n);
  in_ = in_.subspan(n);
  return true;
}
bool ByteReader::u8(std::uint8_t* out) {
  ByteView b;
  if (!raw(1, &b)) return false;
  *out = b[0];
  return true;
}
bool ByteReader::u16(std::uint16_t* out) {
  ByteView b;
  if (!raw(2, &b)) return false;
  *out = static_cast<std::uint16_t>((b[0] << 8) | b[1]);
  return true;
}
bool ByteReader::u32(std::uint32_t* out) {
  std::uint16_t hi = 0, lo = 0;
  if (!u16(&hi) || !u16(&lo)) return false;
  *out = (static_cast<std::uint32_t>(hi) << 16) | lo;
  return true;
}
bool ByteReader::u64(std::uint64_t* out) {
  std::uint32_t hi = 0, lo = 0;
  if (!u32(&hi) || !u32(&lo)) return false;
  *out = (static_cast<std::uint64_t>(hi) << 32) | lo;
  return true;
}
bool ByteReader::field(ByteView* out, std::size_t max_len) {
  ByteReader probe = *this;
  std::uint16_t len = 0;
  if (!probe.u16(&len) || len > max_len || !probe.raw(len, out)) return false;
  *this = probe;
  return true;
}
bool ByteReader::fixedField(ByteView* out, std::size_t len) {
  ByteReader probe = *this;
  if (!probe.field(out, len) || out->size() != len) return false;
  *this = probe;
  return true;
}
bool ByteReader::text(std::string* out, std::size_t max_len) {
  ByteView b;
  if (!field(&b, max_len)) return false;
  out->assign(b.begin(), b.end());
  return true;
}

}  // namespace mpay
