// Copyright embrt authors.

#include "row_copy.h"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define EMBRT_CPU_HAVE_STREAMING_STORES 1
#endif

namespace embrt {
namespace cpu {
namespace {

constexpr size_t kLine = 64;
constexpr size_t kMinStreamingBytes = size_t{64} << 10;

#ifdef EMBRT_CPU_HAVE_STREAMING_STORES
// `lines` whole lines from `source` (any alignment) to the 64-byte aligned `destination`.
__attribute__((target("avx512f"))) void StreamLinesAvx512(unsigned char* destination,
                                                          const unsigned char* source,
                                                          size_t lines) {
  for (size_t i = 0; i < lines; ++i) {
    const __m512i line = _mm512_loadu_si512(source + i * kLine);
    _mm512_stream_si512(reinterpret_cast<__m512i*>(destination + i * kLine), line);
  }
}

// The same with SSE2 (every x86-64 CPU has it).
void StreamLinesSse2(unsigned char* destination, const unsigned char* source, size_t lines) {
  for (size_t i = 0; i < lines; ++i) {
    const unsigned char* from = source + i * kLine;
    __m128i* to = reinterpret_cast<__m128i*>(destination + i * kLine);
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(from));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(from + 16));
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(from + 32));
    const __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(from + 48));
    _mm_stream_si128(to, a);
    _mm_stream_si128(to + 1, b);
    _mm_stream_si128(to + 2, c);
    _mm_stream_si128(to + 3, d);
  }
}

bool HasAvx512() {
  static const bool has = __builtin_cpu_supports("avx512f");
  return has;
}
#endif

}  // namespace

void StreamingCopy(void* destination, const void* source, size_t bytes) {
#ifdef EMBRT_CPU_HAVE_STREAMING_STORES
  unsigned char* to = static_cast<unsigned char*>(destination);
  const unsigned char* from = static_cast<const unsigned char*>(source);
  const size_t head = std::min(bytes, (kLine - reinterpret_cast<uintptr_t>(to) % kLine) % kLine);
  if (head > 0) std::memcpy(to, from, head);
  to += head;
  from += head;
  bytes -= head;
  const size_t lines = bytes / kLine;
  if (lines > 0) {
    if (HasAvx512()) {
      StreamLinesAvx512(to, from, lines);
    } else {
      StreamLinesSse2(to, from, lines);
    }
    _mm_sfence();  // streaming stores are weakly ordered: order them before later stores
  }
  const size_t tail = bytes - lines * kLine;
  if (tail > 0) std::memcpy(to + lines * kLine, from + lines * kLine, tail);
#else
  if (bytes > 0) std::memcpy(destination, source, bytes);
#endif
}

void CopyIntoLargeRegion(void* destination, const void* source, size_t bytes,
                         size_t region_bytes) {
  if (bytes >= kMinStreamingBytes && region_bytes > LastLevelCacheBytes()) {
    StreamingCopy(destination, source, bytes);
  } else if (bytes > 0) {
    std::memcpy(destination, source, bytes);
  }
}

size_t LastLevelCacheBytes() {
  static const size_t bytes = [] {
    long size = -1;
#ifdef _SC_LEVEL3_CACHE_SIZE
    size = sysconf(_SC_LEVEL3_CACHE_SIZE);
    if (size <= 0) size = sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
    return size > 0 ? static_cast<size_t>(size) : size_t{32} << 20;
  }();
  return bytes;
}

}  // namespace cpu
}  // namespace embrt
