// Secret: bytes that must not outlive their use (passwords, PINs, K, session
// keys, ECDH shared secrets). Fixed size, zeroized on destruction, move-only,
// kept in memory excluded from core dumps (common/secret_arena.h).
// The bytes are reachable only through exposeSecret(), so every place that
// touches a secret in clear can be found with one grep.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace mpay {

class Secret {
 public:
  Secret() = default;
  explicit Secret(std::size_t size);
  static Secret copyOf(std::span<const std::uint8_t> bytes);
  static Secret copyOf(std::string_view text);
  ~Secret();
  Secret(Secret&& other) noexcept;
  Secret& operator=(Secret&& other) noexcept;
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // The one accessor. Callers must not copy the bytes into non-Secret storage.
  std::span<const std::uint8_t> exposeSecret() const { return {data_, size_}; }
  std::span<std::uint8_t> exposeSecretMutable() { return {data_, size_}; }
  std::string_view exposeSecretText() const {
    return {reinterpret_cast<const char*>(data_), size_};
  }

 private:
  void wipe();
  std::uint8_t* data_ = nullptr;  // from secret_arena; null only when moved from or default
  std::size_t size_ = 0;
};

// Constant-time equality for MACs and verifiers.
bool constantTimeEqual(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b);

}  // namespace mpay
