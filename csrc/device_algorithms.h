// Device-wide algorithms behind one wrapper: CUB on the GPU (asynchronous on a stream, caller-owned
// temporary storage, no host synchronisation), Thrust's CPP backend on the host (the CPU grid
// launchers, so the tests run the same call sequence), plain std:: when Thrust's headers are
// absent.
//
// Only what the post-processing needs: an ascending sort of 64-bit keys that compares bits
// [0, end_bit) (bits at and above end_bit must be zero).
#pragma once

#include <cstddef>
#include <cstdint>

#if defined(__CUDACC__)
#include <cub/device/device_radix_sort.cuh>
#endif

// Thrust's CPP backend binds a reference to a null execution-policy pointer for tag dispatch, which
// UBSan reports ("reference binding to null pointer"): sanitizer builds (ASan defines
// __SANITIZE_ADDRESS__; scripts/sanitize.sh builds ASan + UBSan together) use std::sort instead.
#if defined(SP_HAVE_THRUST) && defined(__SANITIZE_ADDRESS__)
#undef SP_HAVE_THRUST
#endif

#if !defined(__CUDACC__)
#if defined(SP_HAVE_THRUST)
// Host-only build: Thrust's "device" system is its sequential C++ backend (no CUDA headers).
#ifndef THRUST_DEVICE_SYSTEM
#define THRUST_DEVICE_SYSTEM THRUST_DEVICE_SYSTEM_CPP
#endif
#include <thrust/sort.h>
#include <thrust/system/cpp/execution_policy.h>
#else
#include <algorithm>
#endif
#endif

namespace sp {
namespace dev {

// Host execution (the CPU grid launchers).
struct HostExec {};

#if !defined(__CUDACC__)
// Sorts keys[0, n) ascending in place. `alt` (n elements) is unused on the host; the result is
// always in `keys`. Returns the array holding the result.
inline uint64_t* sort_keys(HostExec, uint64_t* keys, uint64_t* alt, int64_t n, int end_bit) {
  (void)alt;
  (void)end_bit;
#if defined(SP_HAVE_THRUST)
  thrust::sort(thrust::cpp::par, keys, keys + n);
#else
  std::sort(keys, keys + n);
#endif
  return keys;
}
#endif

#if defined(__CUDACC__)
// GPU execution: a stream and a preallocated temporary buffer (size from sort_keys_temp_bytes).
struct CudaExec {
  cudaStream_t stream;
  void* temp;
  size_t temp_bytes;
};

// Bytes of temporary storage sort_keys needs for n keys.
inline size_t sort_keys_temp_bytes(int64_t n, int end_bit) {
  size_t bytes = 0;
  cub::DoubleBuffer<uint64_t> buf(nullptr, nullptr);
  cub::DeviceRadixSort::SortKeys(nullptr, bytes, buf, static_cast<int>(n), 0, end_bit);
  return bytes;
}

// Enqueues an ascending radix sort of keys[0, n) on bits [0, end_bit); `alt` is a second buffer of
// n keys. Returns the buffer (keys or alt) holding the sorted keys; nothing is synchronised.
inline uint64_t* sort_keys(const CudaExec& ex, uint64_t* keys, uint64_t* alt, int64_t n,
                           int end_bit, cudaError_t* err) {
  cub::DoubleBuffer<uint64_t> buf(keys, alt);
  size_t bytes = ex.temp_bytes;
  *err = cub::DeviceRadixSort::SortKeys(ex.temp, bytes, buf, static_cast<int>(n), 0, end_bit,
                                        ex.stream);
  return buf.Current();
}
#endif

}  // namespace dev
}  // namespace sp
