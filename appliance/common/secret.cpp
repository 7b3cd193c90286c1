#include "common/secret.h"

#include <openssl/crypto.h>

#include "common/secret_arena.h"

#include <cstring>

namespace mpay {

Secret::Secret(std::size_t size) : data_(secret_arena::allocate(size == 0 ? 1 : size)), size_(size) {}

Secret Secret::copyOf(std::span<const std::uint8_t> bytes) {
  Secret s(bytes.size());
  if (!bytes.empty()) std::memcpy(s.data_, bytes.data(), bytes.size());
  return s;
}

Secret Secret::copyOf(std::string_view text) {
  return copyOf({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
}

Secret::~Secret() { wipe(); }

Secret::Secret(Secret&& other) noexcept : data_(other.data_), size_(other.size_) {
  other.data_ = nullptr;
  other.size_ = 0;
}

Secret& Secret::operator=(Secret&& other) noexcept {
  if (this != &other) {
    wipe();
    data_ = other.data_;
    size_ = other.size_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

void Secret::wipe() {
  if (data_) {
    OPENSSL_cleanse(data_, size_);
    secret_arena::release(data_, size_ == 0 ? 1 : size_);
  }
  data_ = nullptr;
  size_ = 0;
}

bool constantTimeEqual(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace mpay
