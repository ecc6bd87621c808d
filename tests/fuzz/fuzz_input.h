// A reader over a fuzzer's bytes: integers, picks and strings, in order, and
// zeros once the bytes run out. Used by the fuzz targets whose input is a
// structure rather than text. Works with any compiler (the replay build of
// the corpus uses g++), unlike clang's FuzzedDataProvider.
#ifndef MEMCOORD_TESTS_FUZZ_FUZZ_INPUT_H_
#define MEMCOORD_TESTS_FUZZ_FUZZ_INPUT_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace memcoord::fuzz {

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  uint8_t Byte() { return empty() ? 0 : data_[pos_++]; }
  uint64_t U64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | Byte();
    return v;
  }
  int64_t I64() { return static_cast<int64_t>(U64()); }
  // In [lo, hi], both inclusive; lo <= hi.
  int64_t Range(int64_t lo, int64_t hi) {
    const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
    if (span == UINT64_MAX) return I64();
    return static_cast<int64_t>(static_cast<uint64_t>(lo) + U64() % (span + 1));
  }
  bool Bool() { return (Byte() & 1) != 0; }
  double Double() {
    const uint64_t bits = U64();
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return d;
  }
  // Up to max_len bytes, length first.
  std::string String(size_t max_len) {
    const size_t n = static_cast<size_t>(Byte()) % (max_len + 1);
    std::string s;
    for (size_t i = 0; i < n && !empty(); ++i) s.push_back(static_cast<char>(Byte()));
    return s;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

}  // namespace memcoord::fuzz

#endif  // MEMCOORD_TESTS_FUZZ_FUZZ_INPUT_H_
