// SPDX-License-Identifier: GPL-2.0-or-later
//
// bench_main.cpp - entry point of iova-bench.
#include <benchmark/benchmark.h>

BENCHMARK_MAIN();
