/*
 * Checks and the per-step report of the demo guest tool
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef REPORT_H
#define REPORT_H

#include <stdbool.h>
#include <stdint.h>

/* Print "ok   ..." or "FAIL ...", count it (also for the current step). */
bool check(bool ok, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Check a value, printed in hex with at least @digits digits. */
bool check_eq(const char *what, uint64_t got, uint64_t want, int digits);
/* An indented information line: "     ..." */
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Steps: everything checked between begin and the next begin counts. */
void step_begin(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void step_bytes(uint64_t moved, uint64_t verified);
void step_fault(bool expected);

unsigned checks_passed(void);
unsigned checks_failed(void);
/* The table of steps, then the totals line. */
void report_print(void);
/* Totals over all steps */
uint64_t report_bytes_verified(void);
uint64_t report_faults(bool expected);

#endif /* REPORT_H */
