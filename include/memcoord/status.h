// Status and Result<T>: how errors cross interfaces in memcoord.
//
// A Status is either OK or carries an error code and a human-readable message
// that names the bad input (a file, a key, a domain). Result<T> holds either a
// value or a non-OK Status. Neither throws. Both are value types and are safe to
// copy between threads; a single object is not synchronised.
#ifndef MEMCOORD_STATUS_H_
#define MEMCOORD_STATUS_H_

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace memcoord {

class Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalidArgument,  // bad input: config, scenario, command line
    kNotFound,         // a domain or file that does not exist
    kUnavailable,      // a dependency (libvirtd, a guest) is not reachable now
    kInternal,         // a bug or an unexpected library failure
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) {
    return Status(Code::kInvalidArgument, std::move(msg));
  }
  static Status NotFound(std::string msg) {
    return Status(Code::kNotFound, std::move(msg));
  }
  static Status Unavailable(std::string msg) {
    return Status(Code::kUnavailable, std::move(msg));
  }
  static Status Internal(std::string msg) {
    return Status(Code::kInternal, std::move(msg));
  }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "ok" or "<code>: <message>".
  std::string ToString() const;

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

// Either a T or an error Status. Accessing value() of an error is a bug.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT
  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  std::optional<T> value_;
  Status status_ = Status::Internal("empty result");
};

}  // namespace memcoord

#endif  // MEMCOORD_STATUS_H_
