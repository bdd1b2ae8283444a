// A small persistent thread pool for the CPU ops (host only).
//
// parallel_for(n, fn) runs fn(task) for task in [0, n) on up to cpu_num_threads() threads, the
// calling thread included, and returns when all are done. The ops split their work so that the
// split never changes a result (each task writes its own outputs with the same arithmetic), so
// the output is identical for every thread count.
//
// Thread count: SUPERPOINT_RT_NUM_THREADS (read once; 1 = everything on the calling thread),
// default min(2, CPUs this process may run on). The workers start on first use, spin ~50 us
// after each job (the ops of one frame come back to back) and then sleep. One job at a time: a
// caller that finds the pool busy (another Python thread inside an op) runs its tasks itself.
// After fork() the child starts a fresh pool (the parent's threads do not exist there).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#include <unistd.h>
#elif defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

namespace sp {

inline int cpu_default_threads() {
  int n = static_cast<int>(std::thread::hardware_concurrency());
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) n = CPU_COUNT(&set);
#endif
  return n < 1 ? 1 : (n > 2 ? 2 : n);
}

// Threads the CPU ops use (>= 1).
inline int cpu_num_threads() {
  static const int n = [] {
    const char* env = std::getenv("SUPERPOINT_RT_NUM_THREADS");
    if (env && *env) {
      char* end = nullptr;
      const long v = std::strtol(env, &end, 10);
      if (end && *end == '\0' && v >= 1) return static_cast<int>(v > 256 ? 256 : v);
    }
    return cpu_default_threads();
  }();
  return n;
}

namespace detail {

inline int64_t current_pid() {
#if defined(__unix__) || defined(__APPLE__)
  return static_cast<int64_t>(getpid());
#else
  return 0;
#endif
}

class ThreadPool {
 public:
  explicit ThreadPool(int threads) : threads_(threads), pid_(current_pid()) {}
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  // Never destroyed (see pool()): workers may still wait on the members at process exit.

  int64_t pid() const { return pid_; }

  // Runs fn(0..n-1); false (nothing run) when another caller holds the pool.
  bool run(int64_t n, const std::function<void(int64_t)>& fn) {
    std::unique_lock<std::mutex> use(use_, std::try_to_lock);
    if (!use.owns_lock()) return false;
    start_workers();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      fn_ = &fn;
      n_tasks_ = n;
      next_.store(0, std::memory_order_relaxed);
      done_.store(0, std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    work(fn, n);
    // Wait until every task is done and no worker is inside this job any more (a worker that
    // took the job late must not run a task of the next one): spin briefly, then sleep.
    auto idle = [&] {
      return done_.load(std::memory_order_acquire) >= n &&
             active_.load(std::memory_order_acquire) == 0;
    };
    spin_until(idle, kCallerSpin);
    std::unique_lock<std::mutex> lock(mutex_);
    finished_.wait(lock, idle);
    fn_ = nullptr;  // workers that wake up now find no job
    return true;
  }

 private:
  static constexpr std::chrono::microseconds kCallerSpin{100};
  static constexpr std::chrono::microseconds kWorkerSpin{50};

  static void pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    std::this_thread::yield();
#endif
  }

  template <typename Pred>
  static bool spin_until(Pred pred, std::chrono::microseconds limit) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 1;; ++i) {
      if (pred()) return true;
      pause();
      if ((i & 255) == 0 && std::chrono::steady_clock::now() - start > limit) return pred();
    }
  }

  void work(const std::function<void(int64_t)>& fn, int64_t n) {
    for (;;) {
      const int64_t t = next_.fetch_add(1, std::memory_order_relaxed);
      if (t >= n) return;
      fn(t);
      done_.fetch_add(1, std::memory_order_acq_rel);
    }
  }

  void start_workers() {
    if (started_) return;
    started_ = true;
    for (int i = 1; i < threads_; ++i) std::thread([this] { worker(); }).detach();
  }

  void worker() {
    uint64_t seen = 0;
    for (;;) {
      spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; }, kWorkerSpin);
      const std::function<void(int64_t)>* fn = nullptr;
      int64_t n = 0;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
        seen = generation_.load(std::memory_order_acquire);
        fn = fn_;
        n = n_tasks_;
        if (fn) active_.fetch_add(1, std::memory_order_acq_rel);
      }
      if (!fn) continue;
      work(*fn, n);
      std::lock_guard<std::mutex> lock(mutex_);
      active_.fetch_sub(1, std::memory_order_acq_rel);
      finished_.notify_all();
    }
  }

  const int threads_;
  const int64_t pid_;
  bool started_ = false;  // guarded by use_
  std::mutex use_;        // one job at a time
  std::mutex mutex_;      // guards fn_, n_tasks_ and the condition variables
  std::condition_variable wake_, finished_;
  const std::function<void(int64_t)>* fn_ = nullptr;
  int64_t n_tasks_ = 0;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int64_t> next_{0}, done_{0};
  std::atomic<int> active_{0};  // workers inside the current job
};

// The process's pool (a new one in a forked child; the old one is leaked on purpose).
inline ThreadPool* pool() {
  static std::atomic<ThreadPool*> current{nullptr};
  ThreadPool* p = current.load(std::memory_order_acquire);
  if (p && p->pid() == current_pid()) return p;
  ThreadPool* fresh = new ThreadPool(cpu_num_threads());
  if (current.compare_exchange_strong(p, fresh, std::memory_order_acq_rel)) return fresh;
  delete fresh;  // another thread installed one first (no workers were started)
  return p;
}

}  // namespace detail

// Runs fn(task) for every task in [0, n); in parallel when n > 1 and more than one thread is
// configured. fn must not throw (record errors and report them after the call).
inline void parallel_for(int64_t n, const std::function<void(int64_t)>& fn) {
  if (n <= 0) return;
  if (n == 1 || cpu_num_threads() == 1 || !detail::pool()->run(n, fn)) {
    for (int64_t t = 0; t < n; ++t) fn(t);
  }
}

}  // namespace sp
