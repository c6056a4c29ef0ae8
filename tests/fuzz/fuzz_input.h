// Copyright embrt authors.
//
// Helpers shared by the fuzz targets: FuzzInput takes typed values off the front of the
// fuzzer's bytes (zeros once they run out, so every input is a valid program), and FUZZ_CHECK
// turns a broken invariant into a crash that libFuzzer records and the corpus regression test
// (fuzz_regression_main.cc) reports.

#ifndef EMBRT_TESTS_FUZZ_FUZZ_INPUT_H_
#define EMBRT_TESTS_FUZZ_FUZZ_INPUT_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#define FUZZ_CHECK(condition)                                                         \
  do {                                                                                \
    if (!(condition)) {                                                               \
      std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, \
                   #condition);                                                       \
      std::abort();                                                                   \
    }                                                                                 \
  } while (false)

namespace embrt {
namespace fuzz {

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  size_t remaining() const { return size_; }

  // A trivially copyable value from the next sizeof(T) bytes (zero-padded at the end).
  template <typename T>
  T Take() {
    T value{};
    const size_t n = size_ < sizeof(T) ? size_ : sizeof(T);
    if (n > 0) std::memcpy(&value, data_, n);
    data_ += n;
    size_ -= n;
    return value;
  }

  bool TakeBool() { return (Take<uint8_t>() & 1) != 0; }

  // An integer in [lo, hi] (hi >= lo), from one to eight bytes depending on the range.
  int64_t TakeInRange(int64_t lo, int64_t hi) {
    const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
    uint64_t raw = 0;
    for (uint64_t covered = 0; covered < span && size_ > 0; covered = (covered << 8) | 0xff) {
      raw = (raw << 8) | Take<uint8_t>();
    }
    if (span == UINT64_MAX) return static_cast<int64_t>(raw);
    return static_cast<int64_t>(static_cast<uint64_t>(lo) + raw % (span + 1));
  }

  // An int64 that is usually small but sometimes extreme: the values that break arithmetic.
  int64_t TakeInterestingInt64() {
    switch (Take<uint8_t>() % 8) {
      case 0:
        return Take<int64_t>();
      case 1:
        return (int64_t{1} << TakeInRange(0, 62)) + TakeInRange(-1, 1);
      case 2:
        return -TakeInRange(0, 4);
      default:
        return TakeInRange(0, 16);
    }
  }

  // Up to `max_size` bytes, as a length-prefixed string.
  std::string TakeString(size_t max_size) {
    const size_t n = static_cast<size_t>(TakeInRange(0, static_cast<int64_t>(max_size)));
    return TakeBytes(n);
  }

  std::string TakeBytes(size_t n) {
    if (n > size_) n = size_;
    std::string out(reinterpret_cast<const char*>(data_), n);
    data_ += n;
    size_ -= n;
    return out;
  }

  // Everything that is left.
  std::string TakeRest() { return TakeBytes(size_); }

 private:
  const uint8_t* data_;
  size_t size_;
};

}  // namespace fuzz
}  // namespace embrt

#endif  // EMBRT_TESTS_FUZZ_FUZZ_INPUT_H_
