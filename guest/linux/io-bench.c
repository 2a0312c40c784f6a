/*
 * io-bench: the NVMe workload of make bench's guest I/O comparison
 * (scripts/guest_io.py), run in the Linux test guest behind each IOMMU.
 *
 * usage: io-bench DEVICE SECONDS [MIB]
 *        (environment: IO_BENCH_PHASES=NAME,... runs only those phases)
 *
 * On the first MIB MiB of DEVICE (default 64, at most the device), opened
 * with O_DIRECT so that every request is DMA of the guest's own buffer, it
 * runs these phases in order, each for SECONDS of guest time:
 *
 *   seq-write-128k   128 KiB writes in passes over the region (the first
 *                    pass always completes: it gives every block its data)
 *   seq-read-128k    128 KiB reads in passes over the region
 *   rand-read-4k-qd1, rand-write-4k-qd1
 *                    4 KiB at random 4 KiB-aligned offsets, one at a time
 *   rand-read-4k-qd32, rand-write-4k-qd32
 *                    the same from 32 threads, one request in flight each
 *
 * With IO_BENCH_PHASES set, only the phases it names run and report;
 * seq-write-128k, unless named, still makes its first pass, untimed and
 * unreported, so that every block holds data before it is read.
 *
 * Queue depth 32 comes from threads doing synchronous I/O, as fio's psync
 * engine with numjobs=32 would: the guest kernel (tinyconfig based) has
 * neither AIO nor io_uring.
 *
 * Every 4 KiB block written holds a pattern made of its block number and a
 * generation that this program counts per block, so data read from the
 * wrong place or a write that was lost both show.  Every read is compared
 * with what the block must hold, and after the last phase the whole region
 * is read and compared once more: every byte is checked at least once a
 * run.  For random writes at depth 32, thread i writes only blocks i mod
 * 32, so no two requests in flight touch the same block.
 *
 * Output, one line per phase, then the check:
 *   io-bench: result PHASE OPS BYTES NS
 *   io-bench: verified BYTES of BYTES
 * and "io-bench: MISMATCH ..." lines for the first wrong blocks.  Exit
 * status 0 when every byte read was as written, 1 otherwise (also on an
 * I/O error), 2 on bad usage.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define BLOCK		4096u
#define SEQ_SIZE	(128u * 1024)
#define MAX_DEPTH	32
#define MISMATCHES_SHOWN 8

struct phase {
	const char	*name;
	int		write;
	int		random;
	int		depth;		/* threads, one request each */
	unsigned	size;		/* bytes per request */
};

static const struct phase phases[] = {
	{ "seq-write-128k",	1, 0, 1,	 SEQ_SIZE },
	{ "seq-read-128k",	0, 0, 1,	 SEQ_SIZE },
	{ "rand-read-4k-qd1",	0, 1, 1,	 BLOCK },
	{ "rand-write-4k-qd1",	1, 1, 1,	 BLOCK },
	{ "rand-read-4k-qd32",	0, 1, MAX_DEPTH, BLOCK },
	{ "rand-write-4k-qd32",	1, 1, MAX_DEPTH, BLOCK },
};

static int fd;
static uint64_t nblocks;	/* 4 KiB blocks in the region */
static uint32_t *generation;	/* per block: what it holds; 0: unwritten */
static atomic_uint mismatches;
static atomic_int io_errors;

struct worker {
	pthread_t		thread;
	const struct phase	*phase;
	unsigned		id;
	uint64_t		deadline_ns;
	uint64_t		rng;
	uint64_t		ops;
	uint64_t		bytes;
	uint8_t			*buf;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* splitmix64's finaliser: any change of block or generation moves all bits */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void fill(uint8_t *buf, uint64_t block, uint32_t gen)
{
	uint64_t *w = (uint64_t *)buf, seed = mix(block << 32 | gen);

	for (unsigned i = 0; i < BLOCK / 8; i++)
		w[i] = seed + i * 0x9e3779b97f4a7c15ull;
}

static void check(const uint8_t *buf, uint64_t block, const char *what)
{
	uint8_t want[BLOCK] __attribute__((aligned(8)));
	unsigned i;

	fill(want, block, generation[block]);
	if (!memcmp(buf, want, BLOCK))
		return;
	for (i = 0; buf[i] == want[i]; i++)
		;
	if (atomic_fetch_add(&mismatches, 1) < MISMATCHES_SHOWN)
		printf("io-bench: MISMATCH %s: block %" PRIu64
		       " (generation %u) differs at byte %u: %#04x, not %#04x\n",
		       what, block, generation[block], i, buf[i], want[i]);
}

static uint64_t next_random(uint64_t *state)
{
	*state += 0x9e3779b97f4a7c15ull;
	return mix(*state);
}

/* The first block of the next request of worker w */
static uint64_t pick(struct worker *w, uint64_t *seq_pos)
{
	const struct phase *p = w->phase;
	uint64_t b;

	if (!p->random) {
		b = *seq_pos;
		*seq_pos = (b + p->size / BLOCK) % nblocks;
		return b;
	}
	b = next_random(&w->rng) % nblocks;
	if (p->write && p->depth > 1)
		b = b - b % p->depth + w->id;	/* this thread's own */
	return b;
}

static int transfer(struct worker *w, uint64_t block)
{
	const struct phase *p = w->phase;
	unsigned n = p->size / BLOCK;
	off_t off = block * BLOCK;
	ssize_t done;

	if (p->write) {
		for (unsigned i = 0; i < n; i++)
			fill(w->buf + i * BLOCK, block + i,
			     ++generation[block + i]);
		done = pwrite(fd, w->buf, p->size, off);
	} else {
		done = pread(fd, w->buf, p->size, off);
	}
	if (done != (ssize_t)p->size) {
		printf("io-bench: %s at byte %lld: %s\n", p->name,
		       (long long)off, done < 0 ? strerror(errno) : "short");
		atomic_fetch_add(&io_errors, 1);
		return -1;
	}
	if (!p->write)
		for (unsigned i = 0; i < n; i++)
			check(w->buf + i * BLOCK, block + i, p->name);
	w->ops++;
	w->bytes += p->size;
	return 0;
}

static void *run_worker(void *opaque)
{
	struct worker *w = opaque;
	uint64_t seq_pos = 0, seq_done = 0;
	int first_pass = w->phase->write && !w->phase->random;

	while (now_ns() < w->deadline_ns ||
	       (first_pass && seq_done < nblocks)) {
		if (transfer(w, pick(w, &seq_pos)))
			break;
		seq_done += w->phase->size / BLOCK;
	}
	return NULL;
}

/* Runs @p for @seconds and, if @report, prints its result line */
static int run_phase(const struct phase *p, unsigned seconds,
		     struct worker *workers, int report)
{
	uint64_t start = now_ns(), ops = 0, bytes = 0;

	for (int i = 0; i < p->depth; i++) {
		struct worker *w = &workers[i];

		w->phase = p;
		w->id = i;
		w->deadline_ns = start + seconds * 1000000000ull;
		w->ops = w->bytes = 0;
		if (pthread_create(&w->thread, NULL, run_worker, w)) {
			printf("io-bench: cannot start thread %d\n", i);
			return -1;
		}
	}
	for (int i = 0; i < p->depth; i++) {
		pthread_join(workers[i].thread, NULL);
		ops += workers[i].ops;
		bytes += workers[i].bytes;
	}
	if (report)
		printf("io-bench: result %s %" PRIu64 " %" PRIu64 " %" PRIu64
		       "\n", p->name, ops, bytes, now_ns() - start);
	fflush(stdout);
	return atomic_load(&io_errors) ? -1 : 0;
}

/* The last check: every block, read once more */
static uint64_t verify_all(struct worker *w)
{
	static const struct phase all = { "final read", 0, 0, 1, SEQ_SIZE };
	uint64_t pos = 0;

	w->phase = &all;
	w->bytes = 0;
	while (w->bytes < nblocks * BLOCK && !transfer(w, pick(w, &pos)))
		;
	return w->bytes;
}

#define NPHASES (sizeof(phases) / sizeof(phases[0]))

/*
 * Sets want[i] for every phase the comma-separated @list names; -1 if an
 * entry (an empty one too) names no phase.
 */
static int parse_phases(const char *list, int *want)
{
	for (const char *p = list;; p++) {
		size_t i, len = strcspn(p, ",");

		for (i = 0; i < NPHASES; i++)
			if (strlen(phases[i].name) == len &&
			    !strncmp(p, phases[i].name, len))
				break;
		if (i == NPHASES)
			return -1;
		want[i] = 1;
		p += len;
		if (!*p)
			return 0;
	}
}

int main(int argc, char **argv)
{
	const char *only = getenv("IO_BENCH_PHASES");
	static struct worker workers[MAX_DEPTH];
	int want[NPHASES];
	unsigned seconds, mib = 64;
	uint64_t size, region, verified;
	unsigned before;

	if (argc < 3 || argc > 4 || (seconds = atoi(argv[2])) < 1 ||
	    (argc == 4 && (mib = atoi(argv[3])) < 1)) {
		fprintf(stderr, "usage: io-bench DEVICE SECONDS [MIB]\n");
		return 2;
	}
	for (size_t i = 0; i < NPHASES; i++)
		want[i] = !only;
	if (only && parse_phases(only, want)) {
		fprintf(stderr, "io-bench: IO_BENCH_PHASES=%s: not a list of phases\n",
			only);
		return 2;
	}
	fd = open(argv[1], O_RDWR | O_DIRECT);
	if (fd < 0 || ioctl(fd, BLKGETSIZE64, &size)) {
		fprintf(stderr, "io-bench: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	region = (uint64_t)mib << 20;
	if (region > size)
		region = size;
	/* Whole sequential requests, and every depth-32 thread has blocks */
	region -= region % SEQ_SIZE;
	nblocks = region / BLOCK;
	if (!nblocks) {
		fprintf(stderr, "io-bench: %s is smaller than 128 KiB\n",
			argv[1]);
		return 2;
	}
	generation = calloc(nblocks, sizeof(*generation));
	for (int i = 0; i < MAX_DEPTH; i++) {
		workers[i].rng = 0x5eed0000ull + i;
		if (posix_memalign((void **)&workers[i].buf, BLOCK, SEQ_SIZE))
			workers[i].buf = NULL;
		if (!workers[i].buf || !generation) {
			fprintf(stderr, "io-bench: out of memory\n");
			return 2;
		}
	}

	for (size_t i = 0; i < NPHASES; i++) {
		/* Unnamed, the first phase still fills the region once */
		if (!want[i] && i)
			continue;
		if (run_phase(&phases[i], want[i] ? seconds : 0, workers,
			      want[i]))
			return 1;
	}
	before = atomic_load(&mismatches);
	verified = verify_all(&workers[0]);
	verified -= (uint64_t)(atomic_load(&mismatches) - before) * BLOCK;
	printf("io-bench: verified %" PRIu64 " of %" PRIu64 "\n",
	       verified, region);
	return atomic_load(&mismatches) || atomic_load(&io_errors) ||
	       verified != region;
}
