// Errors are values: Result<T> holds a T or an Error, like Tink's StatusOr.
#pragma once
#include <string>
#include <utility>
#include <variant>

#include "common/error_code.h"

namespace mpay {

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string detail;     // for the log against a request id; never a secret
  unsigned long ckr = 0;  // PKCS#11 CK_RV when the token produced the error
};

inline Error fail(ErrorCode code, std::string detail) { return Error{code, std::move(detail), 0}; }

// E is the error type: Error inside a process, the gateway's ApiError at its edge.
template <typename T, typename E = Error>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(E error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const E& error() const& { return std::get<1>(v_); }
  E&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, E> v_;
};

template <typename E>
class [[nodiscard]] Result<void, E> {
 public:
  Result() = default;
  Result(E error) : error_(std::move(error)), ok_(false) {}  // NOLINT
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const E& error() const& { return error_; }
  E&& error() && { return std::move(error_); }

 private:
  E error_{};
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace mpay

#define MPAY_CONCAT_INNER(a, b) a##b
#define MPAY_CONCAT(a, b) MPAY_CONCAT_INNER(a, b)

// MPAY_ASSIGN_OR_RETURN(auto x, f()); returns f()'s Error from the caller.
#define MPAY_ASSIGN_OR_RETURN(lhs, expr)                      \
  auto MPAY_CONCAT(mpay_r_, __LINE__) = (expr);                \
  if (!MPAY_CONCAT(mpay_r_, __LINE__).ok())                    \
    return std::move(MPAY_CONCAT(mpay_r_, __LINE__)).error(); \
  lhs = std::move(MPAY_CONCAT(mpay_r_, __LINE__)).value()

#define MPAY_RETURN_IF_ERROR(expr)                                  \
  do {                                                              \
    auto mpay_s_ = (expr);                                          \
    if (!mpay_s_.ok()) return std::move(mpay_s_).error();           \
  } while (0)
