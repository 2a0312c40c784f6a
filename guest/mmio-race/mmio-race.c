/*
 * mmio-race: a guest program that checks MMIO reads stay routed while the
 * memory topology changes (guest/run-mmio-race.sh boots it).
 *
 *   mmio-race BDF BDF SECONDS
 *
 * Two edu devices: one vCPU reads the ID register (BAR0 + 0, a constant)
 * of one in a tight loop, while the other vCPU moves the other's BAR0 away
 * and back through its config space, so that each move commits a new
 * memory topology while the reader's TLB holds the old one.  The reader is
 * the device whose BAR0 lies higher: the other's section comes before it
 * in the dispatch, so a stale section number names another region.
 * Prints one line, "mmio-race: N reads, N wrong (last 0xV), N BAR moves",
 * and exits 1 if any read returned another value, 2 if it could not run.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* Config space offset of BAR0 */
#define BAR0 0x10
/* Reads between two looks at the clock */
#define BURST 256

static const char *mover_bdf;
static atomic_int stop;
static atomic_ulong moves;

static void die(const char *what)
{
    perror(what);
    exit(2);
}

static void pin(int cpu)
{
    cpu_set_t s;

    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    if (sched_setaffinity(0, sizeof(s), &s)) {
        die("sched_setaffinity");
    }
}

/* Opens the device's sysfs @file; exits if that fails. */
static int sysfs_open(const char *bdf, const char *file, int flags)
{
    char path[128];
    int fd;

    snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, file);
    fd = open(path, flags);
    if (fd < 0) {
        die(path);
    }
    return fd;
}

static FILE *sysfs(const char *bdf, const char *file, const char *mode)
{
    FILE *f = fdopen(sysfs_open(bdf, file, *mode == 'w' ? O_WRONLY : O_RDONLY),
                     mode);

    if (!f) {
        die(file);
    }
    return f;
}

/* Sets the device's memory decode on (no driver has enabled it). */
static void enable(const char *bdf)
{
    FILE *f = sysfs(bdf, "enable", "w");

    if (fputs("1", f) < 0 || fclose(f)) {
        die("enable");
    }
}

/* The guest-physical address of BAR0 (first line of "resource"). */
static uint64_t bar0_addr(const char *bdf)
{
    FILE *f = sysfs(bdf, "resource", "r");
    uint64_t start;

    if (fscanf(f, "%" SCNx64, &start) != 1) {
        die("resource");
    }
    fclose(f);
    return start;
}

/* vCPU 0: BAR0 to all-ones (unmapped) and back, until told to stop. */
static void *mover(void *arg __attribute__((unused)))
{
    uint32_t orig, ones = UINT32_MAX;
    int fd;

    pin(0);
    fd = sysfs_open(mover_bdf, "config", O_RDWR);
    if (pread(fd, &orig, 4, BAR0) != 4) {
        die("config read");
    }
    while (!atomic_load(&stop)) {
        if (pwrite(fd, &ones, 4, BAR0) != 4 ||
            pwrite(fd, &orig, 4, BAR0) != 4) {
            die("config write");
        }
        atomic_fetch_add(&moves, 1);
    }
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *reader_bdf;
    volatile uint32_t *bar;     /* MMIO: every read must reach the device */
    uint32_t expect, v, last = 0;
    unsigned long reads = 0, wrong = 0;
    pthread_t t;
    time_t end;
    int fd;

    if (argc != 4) {
        fprintf(stderr, "usage: mmio-race BDF BDF SECONDS\n");
        return 2;
    }
    if (bar0_addr(argv[1]) > bar0_addr(argv[2])) {
        reader_bdf = argv[1];
        mover_bdf = argv[2];
    } else {
        reader_bdf = argv[2];
        mover_bdf = argv[1];
    }
    enable(reader_bdf);
    enable(mover_bdf);
    fd = sysfs_open(reader_bdf, "resource0", O_RDWR | O_SYNC);
    bar = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    if (bar == MAP_FAILED) {
        die("mmap");
    }
    pin(1);
    expect = bar[0];
    printf("mmio-race: reading %s BAR0+0 (0x%08x) while moving %s's BAR0\n",
           reader_bdf, expect, mover_bdf);
    fflush(stdout);
    if (pthread_create(&t, NULL, mover, NULL)) {
        die("pthread_create");
    }
    end = time(NULL) + atoi(argv[3]);
    while (time(NULL) < end) {
        for (int i = 0; i < BURST; i++) {
            v = bar[0];
            if (v != expect) {
                wrong++;
                last = v;
            }
        }
        reads += BURST;
    }
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    printf("mmio-race: %lu reads, %lu wrong (last 0x%08x), %lu BAR moves\n",
           reads, wrong, last, atomic_load(&moves));
    return wrong ? 1 : 0;
}
