// SPDX-License-Identifier: GPL-2.0-or-later
//
// bench_main.cpp - entry point of every allocator benchmark program
// (iova-bench, iova-vs-iova-tree, iova-vs-linux): starts a second thread,
// then runs Google Benchmark.
//
// Why the second thread: glibc (2.35 and later) takes and releases a
// pthread mutex, which std::mutex is, without any atomic instruction while
// the process has never started a thread, and QEMU, the allocator's user,
// always runs several (main loop, vCPUs, RCU, workers).  A benchmark in a
// single-threaded process would time locks that cost almost nothing and
// report about half of what the fast path costs in the device.  The helper
// only sleeps; starting it is enough (glibc never goes back to the
// single-threaded mode).  --no_second_thread leaves it out, to measure the
// difference (docs/devel/performance.rst).
#include <benchmark/benchmark.h>

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <stop_token>
#include <thread>

namespace {

// A thread that sleeps until the program ends.
class SleepingThread {
public:
    SleepingThread()
        : thread_([this](std::stop_token stop) {
              std::unique_lock lock(mutex_);
              wake_.wait(lock, stop, [] { return false; });
          })
    {
    }

private:
    std::mutex mutex_;
    std::condition_variable_any wake_;
    std::jthread thread_; // last: joined (after a stop request) first
};

// Removes `flag` from argv; true if it was there.
bool take_flag(int& argc, char** argv, const char* flag)
{
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], flag) == 0) {
            for (int j = i; j < argc; ++j) {
                argv[j] = argv[j + 1];
            }
            --argc;
            return true;
        }
    }
    return false;
}

} // namespace

int main(int argc, char** argv)
{
    const bool single = take_flag(argc, argv, "--no_second_thread");
    std::optional<SleepingThread> helper;
    if (!single) {
        helper.emplace();
    }
    benchmark::AddCustomContext("second_thread", single ? "no" : "yes");
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        return 1;
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
