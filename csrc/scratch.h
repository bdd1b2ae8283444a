// Per-thread scratch buffers for the CPU ops (host only).
//
// Reusing a buffer across calls avoids a fresh allocation + page faults per frame (which cost more
// than the work for multi-MB buffers); ScratchGuard frees a buffer that grew past `max_bytes` when
// the call ends, so one huge input does not pin its memory for the thread's lifetime.
#pragma once

#include <cstddef>
#include <vector>

namespace sp {

constexpr size_t kScratchKeepBytes = size_t{4} << 20;

template <typename T>
class ScratchGuard {
 public:
  explicit ScratchGuard(std::vector<T>* v, size_t max_bytes = kScratchKeepBytes)
      : v_(v), max_bytes_(max_bytes) {}
  ~ScratchGuard() {
    if (v_->capacity() * sizeof(T) > max_bytes_) std::vector<T>().swap(*v_);
  }
  ScratchGuard(const ScratchGuard&) = delete;
  ScratchGuard& operator=(const ScratchGuard&) = delete;

 private:
  std::vector<T>* v_;
  size_t max_bytes_;
};

}  // namespace sp
