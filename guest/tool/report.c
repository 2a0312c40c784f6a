/*
 * Checks and the per-step report of the demo guest tool
 *
 * Every check prints one line as it happens, so a console log shows what
 * went wrong where; the report at the end condenses the run into one line
 * per step (what was done, bytes moved and verified, faults seen and
 * whether they were the ones the step provoked on purpose).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "report.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_STEPS 64

struct step {
    char name[57];
    unsigned passed, failed;
    uint64_t moved, verified;
    uint64_t faults_expected, faults_unexpected;
};

static struct step steps[MAX_STEPS];
static unsigned nsteps;
static unsigned passed, failed;

static struct step *cur(void)
{
    return nsteps ? &steps[nsteps - 1] : NULL;
}

bool check(bool ok, const char *fmt, ...)
{
    struct step *s = cur();
    va_list ap;

    fputs(ok ? "ok   " : "FAIL ", stdout);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    if (ok) {
        passed++;
    } else {
        failed++;
    }
    if (s) {
        if (ok) {
            s->passed++;
        } else {
            s->failed++;
        }
    }
    return ok;
}

bool check_eq(const char *what, uint64_t got, uint64_t want, int digits)
{
    if (got == want) {
        return check(true, "%s 0x%0*llx", what, digits,
                     (unsigned long long)got);
    }
    return check(false, "%s 0x%0*llx (expected 0x%0*llx)", what,
                 digits, (unsigned long long)got,
                 digits, (unsigned long long)want);
}

void note(const char *fmt, ...)
{
    va_list ap;

    fputs("     ", stdout);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

void step_begin(const char *fmt, ...)
{
    struct step *s;
    va_list ap;

    if (nsteps == MAX_STEPS) {
        /* Fold the rest into the last step rather than lose checks. */
        return;
    }
    s = &steps[nsteps++];
    memset(s, 0, sizeof(*s));
    va_start(ap, fmt);
    vsnprintf(s->name, sizeof(s->name), fmt, ap);
    va_end(ap);
    printf("== %s\n", s->name);
}

void step_bytes(uint64_t moved, uint64_t verified)
{
    struct step *s = cur();

    if (s) {
        s->moved += moved;
        s->verified += verified;
    }
}

void step_fault(bool expected)
{
    struct step *s = cur();

    if (s) {
        if (expected) {
            s->faults_expected++;
        } else {
            s->faults_unexpected++;
        }
    }
}

unsigned checks_passed(void)
{
    return passed;
}

unsigned checks_failed(void)
{
    return failed;
}

uint64_t report_bytes_verified(void)
{
    uint64_t n = 0;

    for (unsigned i = 0; i < nsteps; i++) {
        n += steps[i].verified;
    }
    return n;
}

uint64_t report_faults(bool expected)
{
    uint64_t n = 0;

    for (unsigned i = 0; i < nsteps; i++) {
        n += expected ? steps[i].faults_expected : steps[i].faults_unexpected;
    }
    return n;
}

void report_print(void)
{
    uint64_t moved = 0, verified = 0;

    printf("\n== report ==\n");
    printf("%-4s %-56s %6s %9s %9s %s\n", "", "step", "checks",
           "moved", "verified", "faults");
    for (unsigned i = 0; i < nsteps; i++) {
        const struct step *s = &steps[i];
        char faults[48] = "-";

        if (s->faults_unexpected) {
            snprintf(faults, sizeof(faults), "%llu expected, %llu UNEXPECTED",
                     (unsigned long long)s->faults_expected,
                     (unsigned long long)s->faults_unexpected);
        } else if (s->faults_expected) {
            snprintf(faults, sizeof(faults), "%llu expected",
                     (unsigned long long)s->faults_expected);
        }
        printf("%-4s %-56s %6u %9llu %9llu %s\n",
               s->failed ? "FAIL" : "ok", s->name, s->passed + s->failed,
               (unsigned long long)s->moved,
               (unsigned long long)s->verified, faults);
        moved += s->moved;
        verified += s->verified;
    }
    printf("totals: %u steps, %llu bytes moved by DMA, %llu verified, "
           "faults %llu expected, %llu unexpected\n", nsteps,
           (unsigned long long)moved, (unsigned long long)verified,
           (unsigned long long)report_faults(true),
           (unsigned long long)report_faults(false));
}
