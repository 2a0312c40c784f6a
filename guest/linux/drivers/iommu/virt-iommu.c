// SPDX-License-Identifier: GPL-2.0-only
/*
 * Driver for virt-iommu, the paravirtual PCI IOMMU of the virt-iommu QEMU
 * project (docs/specs/virt-iommu.rst there).
 *
 * The device keeps the translation state itself: the driver allocates
 * domains of the device's four types, attaches requester IDs to them and
 * sends each map_pages()/unmap_pages() as one MAP_FIXED/UNMAP command for
 * the IOVA that dma-iommu chose: the MAP_FIXEDs of one iommu_map() or
 * iommu_map_sg() together from iotlb_sync_map(), each UNMAP posted to run
 * with the next batch (see viommu_post()).  Where the device runs queued
 * commands on a translation miss (ABI 0.4), the MAP_FIXEDs are posted
 * too, and a map rings no doorbell at all (lazy_map).  Commands run
 * synchronously when the tail doorbell is written, so the driver waits for
 * HEAD to catch up instead of sleeping, which keeps map/unmap usable in
 * atomic context.  The device's own ring accesses are not translated by
 * itself, so the rings are coherent memory of the IOMMU's own PCI function.
 *
 * The driver keeps a shadow of each paging domain's mappings for
 * iova_to_phys() and for an exact account (debugfs "stats") that a test can
 * hold against the device's own accounting.
 */

#define pr_fmt(fmt) "virt-iommu: " fmt

#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/dma-map-ops.h>
#include <linux/interrupt.h>
#include <linux/iommu.h>
#include <linux/io-64-nonatomic-lo-hi.h>
#include <linux/pci.h>
#include <linux/rbtree.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/timekeeping.h>

#include "virt-iommu.h"

static_assert(sizeof(struct viommu_stats) == 256);

/* Ring sizes (log2 of entries): 16 KiB of commands, 4 KiB of events */
#define VIOMMU_CMDQ_LOG2	8
#define VIOMMU_EVTQ_LOG2	7
/*
 * Commands complete during the doorbell write, except a SYNC that the device
 * holds (a slow invalidation, or its sync-delay injection): this catches a
 * hang.  It is guest time, measured by the clock: an iteration count, as
 * readl_poll_timeout_atomic() keeps without a delay, is 10^9 MMIO reads,
 * many minutes under TCG with interrupts off.
 */
#define VIOMMU_CMD_TIMEOUT_NS	NSEC_PER_SEC
/*
 * The longest batch: the MAP_FIXEDs that iotlb_sync_map() sends per
 * doorbell, 64 bytes each on the stack.
 */
#define VIOMMU_MAX_BATCH	8
/*
 * Commands queued without a doorbell (see viommu_post()) before one is
 * rung for them; with a batch, far below the ring's 255 usable slots.
 */
#define VIOMMU_MAX_POSTED	64

/*
 * The TAIL shadow (ABI 0.4) shares the SYNC word's page, in a cache line
 * of its own: the device reads it on every miss, the CPUs write it per map.
 */
#define VIOMMU_TAIL_SHADOW_OFFSET	64

/*
 * Queue MAP_FIXEDs without a doorbell where the device runs them on a
 * translation miss (CAP.CMDQ_LAZY): a map then costs no register write,
 * no VM exit.  The price: a MAP_FIXED the device refuses fails the DMA
 * it was for (a fault record) instead of the map, and is logged only at
 * the next doorbell.  0 rings for every iotlb_sync_map, as before ABI 0.4.
 */
static bool lazy_map = true;
module_param(lazy_map, bool, 0644);
MODULE_PARM_DESC(lazy_map,
		 "Queue MAP_FIXEDs for the device to run on a miss (default: on)");

/* x86's MSI window: never translated by the device (see the spec) */
#define VIOMMU_MSI_BASE		0xfee00000UL
#define VIOMMU_MSI_SIZE		0x100000UL

struct viommu_dev {
	struct iommu_device	iommu;
	struct pci_dev		*pdev;
	void __iomem		*regs;

	/* Serialises the command ring and the SYNC word */
	spinlock_t		cmd_lock;
	struct viommu_cmd	*cmdq;
	dma_addr_t		cmdq_dma;
	u32			cmdq_tail;	/* next free slot */
	u32			cmdq_rung;	/* last TAIL written */
	/* NULL: no CAP.CMDQ_LAZY; else the TAIL shadow, then COPYING */
	__le32			*tail_shadow;
	dma_addr_t		tail_shadow_dma;
	u32			*sync_word;
	dma_addr_t		sync_dma;
	u32			sync_seq;
	/*
	 * A SYNC that outlived the timeout is still held by the device, at
	 * CMDQ_HEAD, with cmdq_rung past it: the next batch waits for it
	 * first (see viommu_run()).  Under cmd_lock.
	 */
	u32			late_seq;	/* 0: none */
	struct mutex		stats_lock;	/* serialises QUERY_STATS */
	struct viommu_stats	*stats;
	dma_addr_t		stats_dma;

	struct viommu_event	*evtq;
	dma_addr_t		evtq_dma;
	u32			evtq_head;

	u64			pgsize_bitmap;
	u32			iova_bits;
	u32			domain_types;

	/* Driver-side accounting, shown in debugfs and compared by tests */
	atomic_t		domains[VIOMMU_NR_DOMAIN_TYPES];
	atomic_t		endpoints;	/* attached endpoints */
	atomic64_t		mappings;
	atomic64_t		mapped_bytes;
	atomic64_t		commands;
	atomic64_t		posted;		/* of them, without a doorbell */
	atomic64_t		doorbells;	/* TAIL writes */
	atomic64_t		maps_batched;	/* MAP_FIXEDs with a shared doorbell */
	atomic64_t		maps_posted;	/* MAP_FIXEDs without a doorbell */
	atomic64_t		cmd_errors;
	atomic64_t		invalidations;
	atomic64_t		type_changes;
	atomic64_t		faults;
	atomic64_t		endpoints_gone;
	atomic64_t		strict_events;
	atomic64_t		overflows;
	atomic64_t		sync_timeouts;	/* SYNCs that outlived the timeout */
	atomic64_t		sync_late;	/* ... and completed later */
	struct dentry		*debugfs;

	/* Every domain and endpoint, for the debugfs listing */
	spinlock_t		list_lock;
	struct list_head	domain_list;
	struct list_head	endpoint_list;
};

struct viommu_domain {
	struct iommu_domain	domain;
	struct viommu_dev	*viommu;
	u32			id;		/* device domain ID, 1.. */
	spinlock_t		type_lock;	/* serialises type changes */
	u32			dev_type;	/* type the device has now */
	atomic_t		endpoints;
	/*
	 * Shadow of the device's mappings, for iova_to_phys(), for
	 * iotlb_sync_map() and for accounting: disjoint IOVA ranges (see
	 * viommu_shadow_insert()) in an rbtree, and up to VIOMMU_SPARE_NODES
	 * nodes freed by unmaps, kept for the next maps.  All under map_lock.
	 */
	spinlock_t		map_lock;
	struct rb_root		mappings;
	u64			nr_mappings;
	u64			mapped_bytes;
	struct viommu_mapping	*spare;
	unsigned int		nr_spare;
	struct list_head	list;		/* viommu_dev.domain_list */
};

/*
 * A shadow mapping's life: map_pages() adds it PENDING, iotlb_sync_map()
 * sends its MAP_FIXED and it becomes LIVE, or FAILED if the device refused
 * it (the core then unmaps the range), and unmap_pages() removes it.
 */
enum viommu_map_state {
	VIOMMU_MAP_PENDING,
	VIOMMU_MAP_LIVE,
	VIOMMU_MAP_FAILED,
};

struct viommu_mapping {
	union {
		struct rb_node		rb;	/* in viommu_domain.mappings */
		struct viommu_mapping	*next_spare;
	};
	unsigned long			start;	/* IOVA range, inclusive */
	unsigned long			last;
	phys_addr_t			paddr;
	u32				perms;	/* VIOMMU_PERM_* */
	enum viommu_map_state		state;	/* under map_lock */
};

/*
 * A domain keeps this many freed shadow nodes for its next maps: a request
 * then costs no slab call (a remote free and the slab's slow path when the
 * completion runs on another CPU), and at most 8 KiB stay allocated.
 */
#define VIOMMU_SPARE_NODES	128

/* Per endpoint (PCI function) state, dev_iommu_priv */
struct viommu_endpoint {
	struct viommu_dev	*viommu;
	struct device		*dev;
	u16			rid;
	struct viommu_domain	*domain;	/* NULL: detached */
	struct list_head	list;		/* viommu_dev.endpoint_list */
};

/* One IOMMU per PCI hierarchy; this driver supports one in the system. */
static struct viommu_dev *viommu_global;
static struct iommu_ops viommu_ops;

static const char * const viommu_status_names[] = {
	"PENDING", "OK", "UNSUPPORTED", "INVALID", "NO_DOMAIN", "BUSY",
	"NO_SPACE", "EXISTS", "NOT_MAPPED", "PARTIAL", "RANGE", "WRONG_TYPE",
	"DMA_ERROR", "NO_ENDPOINT",
};

static const char *viommu_status_name(u16 status)
{
	if (status < ARRAY_SIZE(viommu_status_names))
		return viommu_status_names[status];
	return "?";
}

static int viommu_status_errno(u16 status)
{
	switch (status) {
	case VIOMMU_S_OK:
		return 0;
	case VIOMMU_S_NO_SPACE:
		return -ENOSPC;
	case VIOMMU_S_EXISTS:
		return -EEXIST;
	case VIOMMU_S_NOT_MAPPED:
	case VIOMMU_S_NO_DOMAIN:
	case VIOMMU_S_NO_ENDPOINT:
		return -ENOENT;
	case VIOMMU_S_BUSY:
		return -EBUSY;
	case VIOMMU_S_RANGE:
		return -ERANGE;
	default:
		return -EIO;
	}
}

static struct viommu_domain *to_viommu_domain(struct iommu_domain *domain)
{
	return container_of(domain, struct viommu_domain, domain);
}

static u32 viommu_type_of(unsigned int iommu_type)
{
	switch (iommu_type) {
	case IOMMU_DOMAIN_BLOCKED:
		return VIOMMU_DOMAIN_BLOCKED;
	case IOMMU_DOMAIN_IDENTITY:
		return VIOMMU_DOMAIN_IDENTITY;
	case IOMMU_DOMAIN_DMA_FQ:
		return VIOMMU_DOMAIN_DMA_FQ;
	default:
		/* DMA and UNMANAGED are both paging domains, strict */
		return VIOMMU_DOMAIN_DMA;
	}
}

/*
 * The kernel is built for size (tinyconfig), where a 64-byte struct copy or
 * zeroing, or a loop of 8-byte moves, becomes rep movs/stos, and TCG runs
 * those one element at a time: on the map and unmap path, commands are
 * copied and filled by eight 8-byte moves instead.
 */
static void viommu_cmd_copy(struct viommu_cmd *dst,
			    const struct viommu_cmd *src)
{
	const u64 *s = (const u64 *)src;
	u64 *d = (u64 *)dst;

	BUILD_BUG_ON(sizeof(*dst) != 8 * sizeof(u64));
	d[0] = s[0];
	d[1] = s[1];
	d[2] = s[2];
	d[3] = s[3];
	d[4] = s[4];
	d[5] = s[5];
	d[6] = s[6];
	d[7] = s[7];
}

/* A command of @opcode on @domain, every other field 0 */
static void viommu_cmd_init(struct viommu_cmd *cmd, u8 opcode, u32 domain)
{
	u64 *d = (u64 *)cmd;

	d[0] = 0;
	d[1] = 0;
	d[2] = 0;
	d[3] = 0;
	d[4] = 0;
	d[5] = 0;
	d[6] = 0;
	d[7] = 0;
	cmd->opcode = opcode;
	cmd->domain = cpu_to_le32(domain);
}

/*
 * Wait for CMDQ_HEAD to reach @tail, at most VIOMMU_CMD_TIMEOUT_NS of guest
 * time; *@head is where it was last seen.  0 or -ETIMEDOUT.
 */
static int viommu_wait_head(struct viommu_dev *v, u32 tail, u32 *head)
{
	u64 end = ktime_get_mono_fast_ns() + VIOMMU_CMD_TIMEOUT_NS;

	for (;;) {
		*head = readl(v->regs + VIOMMU_REG_CMDQ_HEAD);
		if (*head == tail)
			return 0;
		if (ktime_get_mono_fast_ns() > end)
			return -ETIMEDOUT;
		cpu_relax();
	}
}

/*
 * Tell a device that runs commands on a miss where the ring ends: after
 * the slots up to @tail are written and a dma_wmb(), before any TAIL
 * write that covers them.  Never backwards (the device ignores a shadow
 * behind TAIL).  Under cmd_lock.
 */
static void viommu_set_shadow(struct viommu_dev *v, u32 tail)
{
	if (v->tail_shadow)
		WRITE_ONCE(*v->tail_shadow, cpu_to_le32(tail));
}

/*
 * The ring stopped at @head (ERROR.CMDQ_* set, or the device is gone):
 * resynchronise with where the device stopped and clear the sticky errors,
 * so that the next command gets a chance.  The commands it did not run are
 * dropped.  Under cmd_lock.
 */
static u32 viommu_cmdq_reset_tail(struct viommu_dev *v, u32 head)
{
	u32 err_bits = readl(v->regs + VIOMMU_REG_ERROR);

	/* Before the ring runs again: a miss must not run the dropped ones */
	viommu_set_shadow(v, head);
	writel(err_bits & VIOMMU_ERR_CMDQ_MASK, v->regs + VIOMMU_REG_ERROR);
	writel(head, v->regs + VIOMMU_REG_CMDQ_TAIL);
	v->cmdq_tail = head;
	v->cmdq_rung = head;
	v->late_seq = 0;
	return err_bits;
}

/*
 * Log a command that failed; the driver sends nothing the device should
 * refuse.
 */
static void viommu_cmd_failed(struct viommu_dev *v,
			      const struct viommu_cmd *cmd)
{
	atomic64_inc(&v->cmd_errors);
	dev_err_ratelimited(&v->pdev->dev,
			    "command %#x (domain %u, endpoint %#x, iova %#llx, size %#llx): %s\n",
			    cmd->opcode, le32_to_cpu(cmd->domain),
			    le32_to_cpu(cmd->endpoint), le64_to_cpu(cmd->iova),
			    le64_to_cpu(cmd->size),
			    viommu_status_name(le16_to_cpu(cmd->status)));
}

/*
 * Run @n commands (n <= VIOMMU_MAX_BATCH) and wait for them, together with
 * the commands viommu_post() queued before them.  Each command's status and
 * result are copied back into @cmds.  Returns 0 if all of them returned OK,
 * else the errno of the first failure; every failure is logged, a posted
 * command's too (only the log and the error count tell of it).
 * Callable in atomic context.
 *
 * A SYNC may be held by the device beyond the timeout without any error:
 * the commands before it ran, it completes later.  Its batch then returns
 * -ETIMEDOUT, but the ring stays as it is (rewinding the tail over the held
 * SYNC would let the next batch overwrite its slot, and the SYNC's late
 * completion would then mark the new command done, unrun).  The next batch
 * waits for the held SYNC before it queues anything, so that no other
 * command is ever left in the ring with an unknown outcome.
 */
static int viommu_run(struct viommu_dev *v, struct viommu_cmd *cmds, int n)
{
	u32 mask = (1U << VIOMMU_CMDQ_LOG2) - 1;
	u32 head, posted, first, tail, seq = 0, late = 0, err_bits = 0;
	bool sync_lost = false, late_lost = false, held = false;
	struct viommu_cmd posted_failed __uninitialized;
	unsigned int nr_posted_failed = 0;
	unsigned long flags;
	int i, ret = 0, err;

	if (WARN_ON(n < 1 || n > VIOMMU_MAX_BATCH))
		return -EINVAL;
	spin_lock_irqsave(&v->cmd_lock, flags);
	if (v->late_seq) {
		late = v->late_seq;
		err = viommu_wait_head(v, v->cmdq_rung, &head);
		if (err) {
			/*
			 * Still held after another timeout.  This batch fails
			 * unqueued (its outcome known: not run); the held SYNC
			 * keeps its slot unless the ring stopped on an error.
			 */
			err_bits = readl(v->regs + VIOMMU_REG_ERROR);
			if (err_bits & VIOMMU_ERR_CMDQ_MASK)
				viommu_cmdq_reset_tail(v, head);
			spin_unlock_irqrestore(&v->cmd_lock, flags);
			atomic64_inc(&v->cmd_errors);
			dev_err_ratelimited(&v->pdev->dev,
					    "command queue stuck at %u behind SYNC %u (error %#x)\n",
					    head, late, err_bits);
			return -ETIMEDOUT;
		}
		dma_rmb();
		/* Nothing was queued after it: its value is the last one */
		late_lost = READ_ONCE(*v->sync_word) != late;
		v->late_seq = 0;
	}
	posted = v->cmdq_rung;
	first = v->cmdq_tail;
	tail = first;
	for (i = 0; i < n; i++) {
		cmds[i].status = cpu_to_le16(VIOMMU_S_PENDING);
		if (cmds[i].opcode == VIOMMU_CMD_SYNC) {
			/* The SYNC word is shared: number and check it here */
			seq = ++v->sync_seq;
			cmds[i].limit = cpu_to_le64(seq);
		}
		viommu_cmd_copy(&v->cmdq[tail], &cmds[i]);
		tail = (tail + 1) & mask;
	}
	/* The slots must be visible before the shadow and the doorbell */
	dma_wmb();
	viommu_set_shadow(v, tail);
	writel(tail, v->regs + VIOMMU_REG_CMDQ_TAIL);
	/*
	 * The device runs the batch before the TAIL write completes and
	 * writes each command's status before HEAD moves past it (see the
	 * spec): the last status, in RAM, says the batch is done without an
	 * MMIO read.  A SYNC the device holds, or a ring stopped on an
	 * error, leaves it PENDING: then HEAD tells.
	 */
	if (le16_to_cpu(READ_ONCE(v->cmdq[(tail - 1) & mask].status)) !=
	    VIOMMU_S_PENDING) {
		head = tail;
		err = 0;
	} else {
		err = viommu_wait_head(v, tail, &head);
	}
	/* Status and result were written before HEAD moved */
	dma_rmb();
	for (i = 0; i < n; i++)
		viommu_cmd_copy(&cmds[i], &v->cmdq[(first + i) & mask]);
	/* The posted commands the device ran: the slots are reused after */
	for (; posted != first && posted != head;
	     posted = (posted + 1) & mask) {
		if (le16_to_cpu(v->cmdq[posted].status) == VIOMMU_S_OK)
			continue;
		if (!nr_posted_failed++)
			posted_failed = v->cmdq[posted];
	}
	if (seq && !err && READ_ONCE(*v->sync_word) != seq)
		sync_lost = true;
	if (err) {
		err_bits = readl(v->regs + VIOMMU_REG_ERROR);
		/* Held at our own SYNC, the ring healthy: it is only late */
		held = seq && !(err_bits & VIOMMU_ERR_CMDQ_MASK) &&
		       ((head - first) & mask) < n &&
		       v->cmdq[head].opcode == VIOMMU_CMD_SYNC;
		if (held) {
			v->late_seq = seq;
			v->cmdq_tail = tail;
			v->cmdq_rung = tail;
		} else {
			err_bits = viommu_cmdq_reset_tail(v, head);
		}
	} else {
		v->cmdq_tail = tail;
		v->cmdq_rung = tail;
	}
	spin_unlock_irqrestore(&v->cmd_lock, flags);

	atomic64_add(n, &v->commands);
	atomic64_inc(&v->doorbells);
	if (nr_posted_failed) {
		viommu_cmd_failed(v, &posted_failed);
		atomic64_add(nr_posted_failed - 1, &v->cmd_errors);
	}
	if (late) {
		atomic64_inc(&v->sync_late);
		if (late_lost) {
			atomic64_inc(&v->cmd_errors);
			dev_err_ratelimited(&v->pdev->dev,
					    "SYNC %u completed late without writing its value\n",
					    late);
		} else {
			dev_info_ratelimited(&v->pdev->dev,
					     "SYNC %u completed late, the queue is in step\n",
					     late);
		}
	}
	if (held) {
		atomic64_inc(&v->sync_timeouts);
		dev_warn_ratelimited(&v->pdev->dev,
				     "SYNC %u held beyond %u ms at %u: the next command waits for it\n",
				     seq,
				     (u32)(VIOMMU_CMD_TIMEOUT_NS / NSEC_PER_MSEC),
				     head);
		/* The commands before the SYNC ran: report their status */
		n = (head - first) & mask;
		ret = -ETIMEDOUT;
	} else if (err) {
		atomic64_inc(&v->cmd_errors);
		dev_err_ratelimited(&v->pdev->dev,
				    "command queue stuck at %u (error %#x)\n",
				    head, err_bits);
		return -ETIMEDOUT;
	}
	if (sync_lost) {
		atomic64_inc(&v->cmd_errors);
		dev_err_ratelimited(&v->pdev->dev,
				    "SYNC %u completed without writing its value\n",
				    seq);
		ret = -EIO;
	}
	for (i = 0; i < n; i++) {
		u16 status = le16_to_cpu(cmds[i].status);

		if (status == VIOMMU_S_OK)
			continue;
		if (!ret)
			ret = viommu_status_errno(status);
		viommu_cmd_failed(v, &cmds[i]);
	}
	return ret;
}

static int viommu_run1(struct viommu_dev *v, struct viommu_cmd *cmd)
{
	return viommu_run(v, cmd, 1);
}

/*
 * Queue @n commands (n <= VIOMMU_MAX_BATCH) without ringing the doorbell:
 * they run with the next batch that any CPU sends, which checks their
 * status (a failure is counted and logged; the caller has gone on), or,
 * with a TAIL shadow, when the device misses on an IOVA they map.
 *
 * For UNMAP: the IOMMU core follows every unmap with an iotlb_sync
 * (strict), or does not reuse the IOVA before a flush_iotlb_all (flush
 * queue), and both send a batch, so the range is unmapped before the core
 * relies on it.  Until then the device may still translate it, as an
 * IOTLB may.  In a flush queue domain an unmap then costs no doorbell.
 * For MAP_FIXED only with the shadow (see lazy_map), @for_miss: the DMA
 * that needs the mapping makes the device run it, unless an endpoint keeps
 * its own copy of the translations (the device's COPYING word) and so
 * never misses.
 *
 * Runs the commands at once, and returns viommu_run()'s result, when
 * VIOMMU_MAX_POSTED are waiting, while a late SYNC holds the ring or, for
 * a miss, while COPYING is set; else returns 0.  Reading COPYING under
 * cmd_lock orders it after every batch before: after the ATTACH that made
 * an endpoint copy.  Callable in atomic context.
 */
static int viommu_post(struct viommu_dev *v, struct viommu_cmd *cmds, int n,
		       bool for_miss)
{
	u32 mask = (1U << VIOMMU_CMDQ_LOG2) - 1;
	unsigned long flags;
	bool now;
	int i;

	spin_lock_irqsave(&v->cmd_lock, flags);
	now = v->late_seq ||
	      ((v->cmdq_tail - v->cmdq_rung) & mask) + n > VIOMMU_MAX_POSTED ||
	      (for_miss && READ_ONCE(v->tail_shadow[1]));
	if (!now) {
		for (i = 0; i < n; i++) {
			cmds[i].status = cpu_to_le16(VIOMMU_S_PENDING);
			viommu_cmd_copy(&v->cmdq[v->cmdq_tail], &cmds[i]);
			v->cmdq_tail = (v->cmdq_tail + 1) & mask;
		}
		dma_wmb();
		viommu_set_shadow(v, v->cmdq_tail);
	}
	spin_unlock_irqrestore(&v->cmd_lock, flags);
	if (now)
		return viommu_run(v, cmds, n);
	atomic64_add(n, &v->commands);
	atomic64_add(n, &v->posted);
	if (for_miss)
		atomic64_add(n, &v->maps_posted);
	return 0;
}

/*
 * Fill @cmd as a SYNC that writes into the SYNC word; viommu_run() gives it
 * a fresh sequence number and checks that it landed.  Commands complete in
 * order, so a SYNC that landed proves every command before it ran.
 */
static void viommu_sync_prep(struct viommu_dev *v, struct viommu_cmd *cmd)
{
	viommu_cmd_init(cmd, VIOMMU_CMD_SYNC, 0);
	cmd->addr = cpu_to_le64(v->sync_dma);
}

/*
 * Invalidate @domain's IOTLB entries in [iova, iova + size), or all of them
 * if @size is 0, and wait for the invalidation with a SYNC.  A whole-domain
 * invalidation is also the batch that the device's flush queue waits for.
 */
static void viommu_invalidate(struct viommu_domain *vdom, u64 iova, u64 size)
{
	struct viommu_dev *v = vdom->viommu;
	struct viommu_cmd cmds[2] __uninitialized;

	viommu_cmd_init(&cmds[0], VIOMMU_CMD_INVALIDATE, vdom->id);
	if (size) {
		cmds[0].arg = cpu_to_le32(VIOMMU_INV_RANGE);
		cmds[0].iova = cpu_to_le64(iova);
		cmds[0].size = cpu_to_le64(size);
	} else {
		cmds[0].arg = cpu_to_le32(VIOMMU_INV_DOMAIN);
	}
	viommu_sync_prep(v, &cmds[1]);
	viommu_run(v, cmds, ARRAY_SIZE(cmds));
	atomic64_inc(&v->invalidations);
}

/*
 * The IOMMU core changes a default domain from DMA to DMA_FQ in place (its
 * sysfs "type" store, or dma-iommu falling back from DMA_FQ to DMA when it
 * cannot set up a flush queue) without telling the driver.  Before each
 * operation on the domain, mirror the core's type on the device so that
 * both keep the same semantics and both views agree.
 */
static noinline void viommu_set_type(struct viommu_domain *vdom, u32 want)
{
	struct viommu_cmd cmd = {};
	unsigned long flags;

	spin_lock_irqsave(&vdom->type_lock, flags);
	if (vdom->dev_type == want)
		goto out;
	cmd.opcode = VIOMMU_CMD_DOMAIN_SET_TYPE;
	cmd.domain = cpu_to_le32(vdom->id);
	cmd.arg = cpu_to_le32(want);
	if (!viommu_run1(vdom->viommu, &cmd)) {
		atomic_dec(&vdom->viommu->domains[vdom->dev_type]);
		atomic_inc(&vdom->viommu->domains[want]);
		WRITE_ONCE(vdom->dev_type, want);
		atomic64_inc(&vdom->viommu->type_changes);
	}
out:
	spin_unlock_irqrestore(&vdom->type_lock, flags);
}

static void viommu_sync_type(struct viommu_domain *vdom)
{
	u32 want = viommu_type_of(READ_ONCE(vdom->domain.type));

	if (unlikely(READ_ONCE(vdom->dev_type) != want))
		viommu_set_type(vdom, want);
}

/* --- domains ----------------------------------------------------------- */

static struct iommu_domain *viommu_domain_alloc(unsigned int type)
{
	struct viommu_dev *v = viommu_global;
	struct viommu_domain *vdom;
	struct viommu_cmd cmd = {};
	u32 dtype;

	if (!v)
		return NULL;
	switch (type) {
	case IOMMU_DOMAIN_BLOCKED:
	case IOMMU_DOMAIN_IDENTITY:
	case IOMMU_DOMAIN_UNMANAGED:
	case IOMMU_DOMAIN_DMA:
	case IOMMU_DOMAIN_DMA_FQ:
		break;
	default:
		return NULL;
	}
	dtype = viommu_type_of(type);
	if (!(v->domain_types & BIT(dtype)))
		return NULL;

	vdom = kzalloc(sizeof(*vdom), GFP_KERNEL);
	if (!vdom)
		return NULL;
	vdom->viommu = v;
	spin_lock_init(&vdom->map_lock);
	spin_lock_init(&vdom->type_lock);
	vdom->mappings = RB_ROOT;
	atomic_set(&vdom->endpoints, 0);

	cmd.opcode = VIOMMU_CMD_DOMAIN_ALLOC;
	cmd.arg = cpu_to_le32(dtype);
	if (viommu_run1(v, &cmd)) {
		kfree(vdom);
		return NULL;
	}
	vdom->id = (u32)le64_to_cpu(cmd.result);
	vdom->dev_type = dtype;
	atomic_inc(&v->domains[dtype]);
	spin_lock(&v->list_lock);
	list_add_tail(&vdom->list, &v->domain_list);
	spin_unlock(&v->list_lock);

	vdom->domain.pgsize_bitmap = v->pgsize_bitmap;
	vdom->domain.geometry.aperture_start = 0;
	vdom->domain.geometry.aperture_end =
		v->iova_bits >= 64 ? U64_MAX : BIT_ULL(v->iova_bits) - 1;
	vdom->domain.geometry.force_aperture = true;
	return &vdom->domain;
}

static void viommu_domain_free(struct iommu_domain *domain)
{
	struct viommu_domain *vdom = to_viommu_domain(domain);
	struct viommu_dev *v = vdom->viommu;
	struct viommu_mapping *m, *next;
	struct viommu_cmd cmd = {};

	if (atomic_read(&vdom->endpoints))
		dev_err(&v->pdev->dev, "freeing domain %u with %d endpoints\n",
			vdom->id, atomic_read(&vdom->endpoints));

	/* The device frees the domain's mappings with it */
	cmd.opcode = VIOMMU_CMD_DOMAIN_FREE;
	cmd.domain = cpu_to_le32(vdom->id);
	viommu_run1(v, &cmd);
	atomic_dec(&v->domains[vdom->dev_type]);
	spin_lock(&v->list_lock);
	list_del(&vdom->list);
	spin_unlock(&v->list_lock);

	rbtree_postorder_for_each_entry_safe(m, next, &vdom->mappings, rb) {
		atomic64_dec(&v->mappings);
		atomic64_sub(m->last - m->start + 1, &v->mapped_bytes);
		kfree(m);
	}
	while ((m = vdom->spare)) {
		vdom->spare = m->next_spare;
		kfree(m);
	}
	kfree(vdom);
}

static int viommu_attach_dev(struct iommu_domain *domain, struct device *dev)
{
	struct viommu_endpoint *ep = dev_iommu_priv_get(dev);
	struct viommu_domain *vdom = to_viommu_domain(domain);
	struct viommu_dev *v = vdom->viommu;
	struct viommu_cmd cmd = {};
	int ret;

	if (!ep || ep->viommu != v)
		return -ENODEV;
	if (ep->domain == vdom)
		return 0;

	cmd.opcode = VIOMMU_CMD_ATTACH;
	cmd.domain = cpu_to_le32(vdom->id);
	cmd.endpoint = cpu_to_le32(ep->rid);
	ret = viommu_run1(v, &cmd);
	if (ret)
		return ret;

	/* ATTACH leaves the previous domain */
	if (ep->domain)
		atomic_dec(&ep->domain->endpoints);
	else
		atomic_inc(&v->endpoints);
	atomic_inc(&vdom->endpoints);
	ep->domain = vdom;
	return 0;
}

static void viommu_detach_endpoint(struct viommu_endpoint *ep)
{
	struct viommu_cmd cmd = {};

	if (!ep->domain)
		return;
	cmd.opcode = VIOMMU_CMD_DETACH;
	cmd.endpoint = cpu_to_le32(ep->rid);
	/* OK also when the device already detached a vanished VF */
	viommu_run1(ep->viommu, &cmd);
	atomic_dec(&ep->domain->endpoints);
	atomic_dec(&ep->viommu->endpoints);
	ep->domain = NULL;
}

/* --- the shadow of a domain's mappings, all under map_lock ------------- */

/* The first mapping in [iova, last], in IOVA order, or NULL */
static struct viommu_mapping *viommu_shadow_first(struct viommu_domain *vdom,
						  unsigned long iova,
						  unsigned long last)
{
	struct rb_node *node = vdom->mappings.rb_node;
	struct viommu_mapping *found = NULL;

	/* Disjoint ranges ordered by start are ordered by end too */
	while (node) {
		struct viommu_mapping *m = rb_entry(node, struct viommu_mapping,
						    rb);

		if (m->last < iova) {
			node = node->rb_right;
		} else {
			found = m;
			node = node->rb_left;
		}
	}
	return found && found->start <= last ? found : NULL;
}

/* The mapping after @m if it starts at or before @last, or NULL */
static struct viommu_mapping *viommu_shadow_next(struct viommu_mapping *m,
						 unsigned long last)
{
	struct rb_node *node = rb_next(&m->rb);

	if (!node)
		return NULL;
	m = rb_entry(node, struct viommu_mapping, rb);
	return m->start <= last ? m : NULL;
}

/*
 * Insert @m unless it overlaps a mapping: the descent passes both of its
 * neighbours in IOVA order, and in a set of disjoint ranges only they can
 * overlap it.
 */
static bool viommu_shadow_insert(struct viommu_domain *vdom,
				 struct viommu_mapping *m)
{
	struct rb_node **link = &vdom->mappings.rb_node, *parent = NULL;

	while (*link) {
		struct viommu_mapping *p = rb_entry(*link, struct viommu_mapping,
						    rb);

		parent = *link;
		if (m->last < p->start)
			link = &parent->rb_left;
		else if (m->start > p->last)
			link = &parent->rb_right;
		else
			return false;
	}
	rb_link_node(&m->rb, parent, link);
	rb_insert_color(&m->rb, &vdom->mappings);
	return true;
}

static struct viommu_mapping *viommu_spare_get(struct viommu_domain *vdom)
{
	struct viommu_mapping *m = vdom->spare;

	if (m) {
		vdom->spare = m->next_spare;
		vdom->nr_spare--;
	}
	return m;
}

static void viommu_spare_put(struct viommu_domain *vdom,
			     struct viommu_mapping *m)
{
	if (vdom->nr_spare >= VIOMMU_SPARE_NODES) {
		kfree(m);
		return;
	}
	m->next_spare = vdom->spare;
	vdom->spare = m;
	vdom->nr_spare++;
}

/* --- map and unmap ----------------------------------------------------- */

/*
 * Only adds the mapping to the shadow, PENDING: iotlb_sync_map(), which the
 * core calls after every iommu_map() and iommu_map_sg(), sends it.
 */
static int viommu_map_pages(struct iommu_domain *domain, unsigned long iova,
			    phys_addr_t paddr, size_t pgsize, size_t pgcount,
			    int prot, gfp_t gfp, size_t *mapped)
{
	struct viommu_domain *vdom = to_viommu_domain(domain);
	size_t size = pgsize * pgcount;
	struct viommu_mapping *m;
	unsigned long flags;
	u32 perms = 0;

	if (prot & IOMMU_READ)
		perms |= VIOMMU_PERM_READ;
	if (prot & IOMMU_WRITE)
		perms |= VIOMMU_PERM_WRITE;
	if (!perms)
		return -EINVAL;

	spin_lock_irqsave(&vdom->map_lock, flags);
	m = viommu_spare_get(vdom);
	if (unlikely(!m)) {
		spin_unlock_irqrestore(&vdom->map_lock, flags);
		m = kmalloc(sizeof(*m), gfp);
		if (!m)
			return -ENOMEM;
		spin_lock_irqsave(&vdom->map_lock, flags);
	}
	m->start = iova;
	m->last = iova + size - 1;
	m->paddr = paddr;
	m->perms = perms;
	m->state = VIOMMU_MAP_PENDING;
	/*
	 * The device would refuse an overlap (EXISTS) only in iotlb_sync_map(),
	 * and the core's undo, an unmap of the whole range, would then remove
	 * the mapping it overlaps: refuse it here, where nothing is undone.
	 */
	if (!viommu_shadow_insert(vdom, m)) {
		viommu_spare_put(vdom, m);
		spin_unlock_irqrestore(&vdom->map_lock, flags);
		return -EEXIST;
	}
	vdom->nr_mappings++;
	vdom->mapped_bytes += size;
	spin_unlock_irqrestore(&vdom->map_lock, flags);
	atomic64_inc(&vdom->viommu->mappings);
	atomic64_add(size, &vdom->viommu->mapped_bytes);
	*mapped = size;
	return 0;
}

static void viommu_map_cmd(struct viommu_domain *vdom,
			   const struct viommu_mapping *m,
			   struct viommu_cmd *cmd)
{
	viommu_cmd_init(cmd, VIOMMU_CMD_MAP_FIXED, vdom->id);
	cmd->iova = cpu_to_le64(m->start);
	cmd->addr = cpu_to_le64(m->paddr);
	cmd->size = cpu_to_le64(m->last - m->start + 1);
	cmd->arg = cpu_to_le32(m->perms);
}

/*
 * Send the MAP_FIXEDs that map_pages() left PENDING in [iova, iova + size),
 * VIOMMU_MAX_BATCH at a time: with lazy_map and a TAIL shadow posted for
 * the device to run when the DMA misses (no doorbell; a refusal shows as
 * a fault and in the log), else rung and waited for, so that a 128 KiB
 * request of 32 scattered pages rings 4 times instead of 32.  The range
 * is the caller's until this returns, so no other CPU adds or removes
 * mappings in it.  At the first refusal it returns that error: the core
 * then unmaps the whole range, and unmap_pages() drops what was never sent
 * or was refused without an UNMAP.  Callable in atomic context.
 */
static int viommu_iotlb_sync_map(struct iommu_domain *domain,
				 unsigned long iova, size_t size)
{
	struct viommu_domain *vdom = to_viommu_domain(domain);
	struct viommu_dev *v = vdom->viommu;
	struct viommu_mapping *maps[VIOMMU_MAX_BATCH] __uninitialized;
	struct viommu_cmd cmds[VIOMMU_MAX_BATCH] __uninitialized;
	unsigned long last = iova + size - 1, flags;
	bool lazy = v->tail_shadow && READ_ONCE(lazy_map);
	struct viommu_mapping *m;
	int i, n, ret;

	if (!size)
		return 0;
	viommu_sync_type(vdom);
	do {
		n = 0;
		spin_lock_irqsave(&vdom->map_lock, flags);
		for (m = viommu_shadow_first(vdom, iova, last);
		     m && n < VIOMMU_MAX_BATCH; m = viommu_shadow_next(m, last)) {
			if (m->state != VIOMMU_MAP_PENDING)
				continue;
			m->state = VIOMMU_MAP_LIVE;
			viommu_map_cmd(vdom, m, &cmds[n]);
			maps[n++] = m;
		}
		spin_unlock_irqrestore(&vdom->map_lock, flags);
		if (!n)
			return 0;
		if (lazy) {
			ret = viommu_post(v, cmds, n, true);
		} else {
			ret = viommu_run(v, cmds, n);
			atomic64_add(n - 1, &v->maps_batched);
		}
		if (ret) {
			/* A command that was not run left the status PENDING */
			spin_lock_irqsave(&vdom->map_lock, flags);
			for (i = 0; i < n; i++)
				if (le16_to_cpu(cmds[i].status) != VIOMMU_S_OK)
					maps[i]->state = VIOMMU_MAP_FAILED;
			spin_unlock_irqrestore(&vdom->map_lock, flags);
			return ret;
		}
		/* The iteration is in IOVA order and mappings do not overlap */
		iova = maps[n - 1]->last + 1;
	} while (n == VIOMMU_MAX_BATCH && iova && iova <= last);
	return 0;
}

static size_t viommu_unmap_pages(struct iommu_domain *domain,
				 unsigned long iova, size_t pgsize,
				 size_t pgcount,
				 struct iommu_iotlb_gather *gather)
{
	struct viommu_domain *vdom = to_viommu_domain(domain);
	struct viommu_dev *v = vdom->viommu;
	size_t size = pgsize * pgcount;
	unsigned long last = iova + size - 1, flags;
	struct viommu_mapping *m, *next;
	unsigned int found = 0, held = 0;
	struct viommu_cmd cmd __uninitialized;
	size_t unmapped = 0;

	viommu_sync_type(vdom);

	/* The device removes every mapping inside the range: so do we */
	spin_lock_irqsave(&vdom->map_lock, flags);
	for (m = viommu_shadow_first(vdom, iova, last); m; m = next) {
		next = viommu_shadow_next(m, last);
		found++;
		if (m->start >= iova && m->last <= last) {
			held += m->state == VIOMMU_MAP_LIVE;
			rb_erase(&m->rb, &vdom->mappings);
			unmapped += m->last - m->start + 1;
			vdom->nr_mappings--;
			atomic64_dec(&v->mappings);
			viommu_spare_put(vdom, m);
		} else {
			held++;	/* the device refuses it too: PARTIAL */
			dev_err_ratelimited(&v->pdev->dev,
					    "domain %u: unmap of [%#lx, %#lx] split a mapping the device kept\n",
					    vdom->id, iova, last);
		}
	}
	vdom->mapped_bytes -= unmapped;
	spin_unlock_irqrestore(&vdom->map_lock, flags);
	atomic64_sub(unmapped, &v->mapped_bytes);

	/*
	 * What was never sent, or was refused, the device does not hold; an
	 * empty shadow still asks the device, which then says NOT_MAPPED.
	 */
	if (held || !found) {
		viommu_cmd_init(&cmd, VIOMMU_CMD_UNMAP, vdom->id);
		cmd.iova = cpu_to_le64(iova);
		cmd.size = cpu_to_le64(size);
		viommu_post(v, &cmd, 1, false);
	}

	iommu_iotlb_gather_add_range(gather, iova, size);
	return size;
}

static void viommu_flush_iotlb_all(struct iommu_domain *domain)
{
	struct viommu_domain *vdom = to_viommu_domain(domain);

	viommu_sync_type(vdom);
	viommu_invalidate(vdom, 0, 0);
}

static void viommu_iotlb_sync(struct iommu_domain *domain,
			      struct iommu_iotlb_gather *gather)
{
	struct viommu_domain *vdom = to_viommu_domain(domain);

	if (gather->start > gather->end)
		return;	/* nothing was gathered */
	viommu_invalidate(vdom, gather->start,
			  gather->end - gather->start + 1);
}

static phys_addr_t viommu_iova_to_phys(struct iommu_domain *domain,
				       dma_addr_t iova)
{
	struct viommu_domain *vdom = to_viommu_domain(domain);
	struct viommu_mapping *m;
	phys_addr_t paddr = 0;
	unsigned long flags;

	spin_lock_irqsave(&vdom->map_lock, flags);
	m = viommu_shadow_first(vdom, iova, iova);
	if (m)
		paddr = m->paddr + (iova - m->start);
	spin_unlock_irqrestore(&vdom->map_lock, flags);
	return paddr;
}

/* --- endpoints --------------------------------------------------------- */

static struct iommu_device *viommu_probe_device(struct device *dev)
{
	struct viommu_dev *v = viommu_global;
	struct viommu_endpoint *ep;
	struct pci_dev *pdev;

	if (!v || !dev_is_pci(dev))
		return ERR_PTR(-ENODEV);
	pdev = to_pci_dev(dev);
	/* Not ourselves, and only functions of our own hierarchy */
	if (pdev == v->pdev ||
	    pci_find_host_bridge(pdev->bus) != pci_find_host_bridge(v->pdev->bus))
		return ERR_PTR(-ENODEV);

	ep = kzalloc(sizeof(*ep), GFP_KERNEL);
	if (!ep)
		return ERR_PTR(-ENOMEM);
	ep->viommu = v;
	ep->dev = dev;
	ep->rid = pci_dev_id(pdev);
	dev_iommu_priv_set(dev, ep);
	spin_lock(&v->list_lock);
	list_add_tail(&ep->list, &v->endpoint_list);
	spin_unlock(&v->list_lock);
	return &v->iommu;
}

static void viommu_release_device(struct device *dev)
{
	struct viommu_endpoint *ep = dev_iommu_priv_get(dev);

	if (!ep)
		return;
	/*
	 * The core frees the group's domain after this; detach first so that
	 * DOMAIN_FREE does not find the endpoint still attached (a VF is
	 * removed before its VF Enable bit is cleared).
	 */
	viommu_detach_endpoint(ep);
	spin_lock(&ep->viommu->list_lock);
	list_del(&ep->list);
	spin_unlock(&ep->viommu->list_lock);
	dev_iommu_priv_set(dev, NULL);
	kfree(ep);
}

static struct iommu_group *viommu_device_group(struct device *dev)
{
	if (dev_is_pci(dev))
		return pci_device_group(dev);
	return generic_device_group(dev);
}

static void viommu_get_resv_regions(struct device *dev, struct list_head *head)
{
	struct iommu_resv_region *msi;

	/*
	 * The device passes writes to the MSI window through untranslated
	 * whatever the domain: a hardware MSI region, kept out of the IOVA
	 * allocator and never mapped.
	 */
	msi = iommu_alloc_resv_region(VIOMMU_MSI_BASE, VIOMMU_MSI_SIZE, 0,
				      IOMMU_RESV_MSI, GFP_KERNEL);
	if (!msi)
		return;
	list_add_tail(&msi->list, head);
}

static bool viommu_capable(struct device *dev, enum iommu_cap cap)
{
	switch (cap) {
	case IOMMU_CAP_CACHE_COHERENCY:
		return true;
	case IOMMU_CAP_DEFERRED_FLUSH:
		/*
		 * The device keeps a DMA_FQ domain's unmapped IOVAs usable
		 * until the next whole-domain invalidation: without saying
		 * so, dma-iommu turns every DMA_FQ default domain into DMA.
		 */
		return true;
	default:
		return false;
	}
}

static struct iommu_ops viommu_ops = {
	.capable		= viommu_capable,
	.domain_alloc		= viommu_domain_alloc,
	.probe_device		= viommu_probe_device,
	.release_device		= viommu_release_device,
	.device_group		= viommu_device_group,
	.get_resv_regions	= viommu_get_resv_regions,
	.owner			= THIS_MODULE,
	.default_domain_ops = &(const struct iommu_domain_ops) {
		.attach_dev		= viommu_attach_dev,
		.map_pages		= viommu_map_pages,
		.unmap_pages		= viommu_unmap_pages,
		.iotlb_sync_map		= viommu_iotlb_sync_map,
		.flush_iotlb_all	= viommu_flush_iotlb_all,
		.iotlb_sync		= viommu_iotlb_sync,
		.iova_to_phys		= viommu_iova_to_phys,
		.free			= viommu_domain_free,
	},
};

/* --- events ------------------------------------------------------------ */

static void viommu_report_fault(struct viommu_dev *v,
				const struct viommu_event *evt)
{
	u16 rid = le16_to_cpu(evt->endpoint);
	u64 iova = le64_to_cpu(evt->iova);
	u32 access = le32_to_cpu(evt->access);
	int flags = access & VIOMMU_PERM_WRITE ? IOMMU_FAULT_WRITE :
						 IOMMU_FAULT_READ;
	struct iommu_domain *domain = NULL;
	struct pci_dev *pdev;

	atomic64_inc(&v->faults);
	pdev = pci_get_domain_bus_and_slot(pci_domain_nr(v->pdev->bus),
					   PCI_BUS_NUM(rid), rid & 0xff);
	if (pdev)
		domain = iommu_get_domain_for_dev(&pdev->dev);
	/* A fault handler that took the fault (returns 0) keeps it quiet */
	if (!pdev || !domain ||
	    report_iommu_fault(domain, &pdev->dev, iova, flags))
		dev_err_ratelimited(&v->pdev->dev,
				    "fault: endpoint %02x:%02x.%u domain %u iova %#llx %s reason %u\n",
				    PCI_BUS_NUM(rid), PCI_SLOT(rid & 0xff),
				    PCI_FUNC(rid & 0xff),
				    le32_to_cpu(evt->domain), iova,
				    flags == IOMMU_FAULT_WRITE ? "write" : "read",
				    evt->reason);
	pci_dev_put(pdev);
}

static irqreturn_t viommu_event_thread(int irq, void *data)
{
	struct viommu_dev *v = data;
	u32 mask = (1U << VIOMMU_EVTQ_LOG2) - 1;
	u32 tail, err;

	err = readl(v->regs + VIOMMU_REG_ERROR);
	if (err & VIOMMU_ERR_EVTQ_OVERFLOW) {
		atomic64_inc(&v->overflows);
		dev_warn_ratelimited(&v->pdev->dev, "event queue overflow\n");
		writel(VIOMMU_ERR_EVTQ_OVERFLOW, v->regs + VIOMMU_REG_ERROR);
	}

	while ((tail = readl(v->regs + VIOMMU_REG_EVTQ_TAIL)) != v->evtq_head) {
		/* The record was written before TAIL moved */
		dma_rmb();
		while (v->evtq_head != tail) {
			struct viommu_event evt = v->evtq[v->evtq_head];

			switch (evt.type) {
			case VIOMMU_EVT_FAULT:
				viommu_report_fault(v, &evt);
				break;
			case VIOMMU_EVT_ENDPOINT_GONE:
				/* A VF went away before the core released it */
				atomic64_inc(&v->endpoints_gone);
				dev_dbg(&v->pdev->dev,
					"endpoint %#x left domain %u\n",
					le16_to_cpu(evt.endpoint),
					le32_to_cpu(evt.domain));
				break;
			case VIOMMU_EVT_STRICT:
				atomic64_inc(&v->strict_events);
				dev_err_ratelimited(&v->pdev->dev,
						    "strict check: domain %u iova %#llx reason %u\n",
						    le32_to_cpu(evt.domain),
						    le64_to_cpu(evt.iova),
						    evt.reason);
				break;
			default:
				dev_warn_ratelimited(&v->pdev->dev,
						     "unknown event type %u\n",
						     evt.type);
			}
			v->evtq_head = (v->evtq_head + 1) & mask;
		}
		writel(v->evtq_head, v->regs + VIOMMU_REG_EVTQ_HEAD);
	}
	return IRQ_HANDLED;
}

/* --- debugfs ----------------------------------------------------------- */

static int viommu_stats_show(struct seq_file *s, void *unused)
{
	struct viommu_dev *v = s->private;
	struct viommu_cmd cmd = {};
	struct viommu_stats st;
	int ret;

	seq_printf(s, "domains_blocked %d\n",
		   atomic_read(&v->domains[VIOMMU_DOMAIN_BLOCKED]));
	seq_printf(s, "domains_identity %d\n",
		   atomic_read(&v->domains[VIOMMU_DOMAIN_IDENTITY]));
	seq_printf(s, "domains_dma %d\n",
		   atomic_read(&v->domains[VIOMMU_DOMAIN_DMA]));
	seq_printf(s, "domains_dma_fq %d\n",
		   atomic_read(&v->domains[VIOMMU_DOMAIN_DMA_FQ]));
	seq_printf(s, "endpoints %d\n", atomic_read(&v->endpoints));
	seq_printf(s, "mappings %lld\n", atomic64_read(&v->mappings));
	seq_printf(s, "mapped_bytes %lld\n", atomic64_read(&v->mapped_bytes));
	seq_printf(s, "commands %lld\n", atomic64_read(&v->commands));
	seq_printf(s, "commands_posted %lld\n", atomic64_read(&v->posted));
	seq_printf(s, "doorbells %lld\n", atomic64_read(&v->doorbells));
	seq_printf(s, "maps_batched %lld\n", atomic64_read(&v->maps_batched));
	seq_printf(s, "maps_posted %lld\n", atomic64_read(&v->maps_posted));
	seq_printf(s, "command_errors %lld\n", atomic64_read(&v->cmd_errors));
	seq_printf(s, "invalidations %lld\n", atomic64_read(&v->invalidations));
	seq_printf(s, "type_changes %lld\n", atomic64_read(&v->type_changes));
	seq_printf(s, "faults %lld\n", atomic64_read(&v->faults));
	seq_printf(s, "endpoints_gone %lld\n",
		   atomic64_read(&v->endpoints_gone));
	seq_printf(s, "strict_events %lld\n", atomic64_read(&v->strict_events));
	seq_printf(s, "event_overflows %lld\n", atomic64_read(&v->overflows));
	seq_printf(s, "sync_timeouts %lld\n", atomic64_read(&v->sync_timeouts));
	seq_printf(s, "sync_late %lld\n", atomic64_read(&v->sync_late));

	/* The device's own totals, asked for while we are at it */
	cmd.opcode = VIOMMU_CMD_QUERY_STATS;
	cmd.addr = cpu_to_le64(v->stats_dma);
	mutex_lock(&v->stats_lock);
	ret = viommu_run1(v, &cmd);
	st = *v->stats;
	mutex_unlock(&v->stats_lock);
	if (ret)
		return ret;
	seq_printf(s, "device_domains %u\n", le32_to_cpu(st.type));
	seq_printf(s, "device_endpoints %u\n", le32_to_cpu(st.endpoints));
	seq_printf(s, "device_mappings %llu\n", le64_to_cpu(st.mappings));
	seq_printf(s, "device_mapped_bytes %llu\n",
		   le64_to_cpu(st.mapped_bytes));
	seq_printf(s, "device_injected_status %llu\n",
		   le64_to_cpu(st.injected_status));
	seq_printf(s, "device_injected_syncs %llu\n",
		   le64_to_cpu(st.injected_syncs));
	seq_printf(s, "device_injected_drops %llu\n",
		   le64_to_cpu(st.injected_drops));
	seq_printf(s, "device_injected_attaches %llu\n",
		   le64_to_cpu(st.injected_attaches));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(viommu_stats);

static const char *viommu_core_type_name(unsigned int type)
{
	switch (type) {
	case IOMMU_DOMAIN_BLOCKED:
		return "BLOCKED";
	case IOMMU_DOMAIN_IDENTITY:
		return "IDENTITY";
	case IOMMU_DOMAIN_UNMANAGED:
		return "UNMANAGED";
	case IOMMU_DOMAIN_DMA:
		return "DMA";
	case IOMMU_DOMAIN_DMA_FQ:
		return "DMA_FQ";
	default:
		return "?";
	}
}

static const char * const viommu_type_names[] = {
	[VIOMMU_DOMAIN_BLOCKED] = "BLOCKED",
	[VIOMMU_DOMAIN_IDENTITY] = "IDENTITY",
	[VIOMMU_DOMAIN_DMA] = "DMA",
	[VIOMMU_DOMAIN_DMA_FQ] = "DMA_FQ",
};

/*
 * One line per domain: its device ID, the type the IOMMU core gives it,
 * the type the device has (they differ until the next operation on a
 * domain the core changed in place, see viommu_sync_type()), endpoints and
 * mappings; then one line per endpoint with its domain ID (0: none).
 */
static int viommu_domains_show(struct seq_file *s, void *unused)
{
	struct viommu_dev *v = s->private;
	struct viommu_endpoint *ep;
	struct viommu_domain *vdom;

	spin_lock(&v->list_lock);
	list_for_each_entry(vdom, &v->domain_list, list)
		seq_printf(s, "domain %u core %s device %s endpoints %d mappings %llu bytes %llu\n",
			   vdom->id,
			   viommu_core_type_name(READ_ONCE(vdom->domain.type)),
			   viommu_type_names[READ_ONCE(vdom->dev_type)],
			   atomic_read(&vdom->endpoints),
			   READ_ONCE(vdom->nr_mappings),
			   READ_ONCE(vdom->mapped_bytes));
	list_for_each_entry(ep, &v->endpoint_list, list)
		seq_printf(s, "endpoint %02x:%02x.%u domain %u\n",
			   PCI_BUS_NUM(ep->rid), PCI_SLOT(ep->rid & 0xff),
			   PCI_FUNC(ep->rid & 0xff),
			   ep->domain ? ep->domain->id : 0);
	spin_unlock(&v->list_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(viommu_domains);

/* --- PCI driver -------------------------------------------------------- */

static void viommu_hw_disable(void *data)
{
	struct viommu_dev *v = data;

	/* Back to the reset policy: translation off, queues stopped */
	writel(VIOMMU_CTRL_DEFAULT_BYPASS, v->regs + VIOMMU_REG_CONTROL);
}

/*
 * Allocate and start both rings; @lazy: the device runs queued commands
 * on a miss (ABI 0.4), so give it the TAIL shadow.
 */
static int viommu_setup_queues(struct viommu_dev *v, bool lazy)
{
	struct device *dev = &v->pdev->dev;
	u32 ctrl = VIOMMU_CTRL_DEFAULT_BYPASS | VIOMMU_CTRL_CMDQ_EN |
		   VIOMMU_CTRL_EVTQ_EN;

	/*
	 * Coherent allocations are aligned to their size rounded up to
	 * pages, which is what the device requires of the ring bases.
	 */
	v->cmdq = dmam_alloc_coherent(dev, sizeof(*v->cmdq) << VIOMMU_CMDQ_LOG2,
				      &v->cmdq_dma, GFP_KERNEL);
	v->evtq = dmam_alloc_coherent(dev, sizeof(*v->evtq) << VIOMMU_EVTQ_LOG2,
				      &v->evtq_dma, GFP_KERNEL);
	v->sync_word = dmam_alloc_coherent(dev, PAGE_SIZE, &v->sync_dma,
					   GFP_KERNEL);
	v->stats = dmam_alloc_coherent(dev, sizeof(*v->stats), &v->stats_dma,
				       GFP_KERNEL);
	if (!v->cmdq || !v->evtq || !v->sync_word || !v->stats)
		return -ENOMEM;

	/* Stop whatever a previous kernel left running, clear old errors */
	writel(VIOMMU_CTRL_DEFAULT_BYPASS, v->regs + VIOMMU_REG_CONTROL);
	writel(VIOMMU_ERR_MASK, v->regs + VIOMMU_REG_ERROR);

	lo_hi_writeq(v->cmdq_dma, v->regs + VIOMMU_REG_CMDQ_BASE);
	writel(VIOMMU_CMDQ_LOG2, v->regs + VIOMMU_REG_CMDQ_SIZE);
	lo_hi_writeq(v->evtq_dma, v->regs + VIOMMU_REG_EVTQ_BASE);
	writel(VIOMMU_EVTQ_LOG2, v->regs + VIOMMU_REG_EVTQ_SIZE);
	/*
	 * 0 without: a previous kernel's shadow is gone.  A device of ABI
	 * 0.3 ignores the write.
	 */
	if (lazy) {
		v->tail_shadow = (void *)v->sync_word + VIOMMU_TAIL_SHADOW_OFFSET;
		v->tail_shadow_dma = v->sync_dma + VIOMMU_TAIL_SHADOW_OFFSET;
		v->tail_shadow[0] = 0;
		v->tail_shadow[1] = 0;
	}
	lo_hi_writeq(v->tail_shadow_dma, v->regs + VIOMMU_REG_CMDQ_TAIL_ADDR);
	writel(ctrl, v->regs + VIOMMU_REG_CONTROL);
	if ((readl(v->regs + VIOMMU_REG_STATUS) &
	     (VIOMMU_STS_CMDQ_ON | VIOMMU_STS_EVTQ_ON)) !=
	    (VIOMMU_STS_CMDQ_ON | VIOMMU_STS_EVTQ_ON)) {
		dev_err(dev, "queues did not start (error %#x)\n",
			readl(v->regs + VIOMMU_REG_ERROR));
		return -EIO;
	}
	v->cmdq_tail = 0;
	v->cmdq_rung = 0;
	v->evtq_head = 0;
	return 0;
}

static int viommu_pci_probe(struct pci_dev *pdev,
			    const struct pci_device_id *id)
{
	struct device *dev = &pdev->dev;
	struct viommu_dev *v;
	u32 version, ctrl;
	u64 cap;
	int ret, i;

	if (viommu_global) {
		dev_err(dev, "only one virt-iommu is supported\n");
		return -EBUSY;
	}

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	ret = pcim_iomap_regions(pdev, BIT(0), dev_name(dev));
	if (ret)
		return ret;
	ret = dma_set_mask_and_coherent(dev, DMA_BIT_MASK(64));
	if (ret)
		return ret;

	v = devm_kzalloc(dev, sizeof(*v), GFP_KERNEL);
	if (!v)
		return -ENOMEM;
	v->pdev = pdev;
	v->regs = pcim_iomap_table(pdev)[0];
	spin_lock_init(&v->cmd_lock);
	mutex_init(&v->stats_lock);
	spin_lock_init(&v->list_lock);
	INIT_LIST_HEAD(&v->domain_list);
	INIT_LIST_HEAD(&v->endpoint_list);
	for (i = 0; i < VIOMMU_NR_DOMAIN_TYPES; i++)
		atomic_set(&v->domains[i], 0);

	if (readl(v->regs + VIOMMU_REG_MAGIC) != VIOMMU_MAGIC) {
		dev_err(dev, "bad magic %#x\n",
			readl(v->regs + VIOMMU_REG_MAGIC));
		return -ENODEV;
	}
	version = readl(v->regs + VIOMMU_REG_VERSION);
	if (VIOMMU_VERSION_MAJOR(version) != VIOMMU_DRIVER_MAJOR ||
	    VIOMMU_VERSION_MINOR(version) < VIOMMU_DRIVER_MINOR) {
		dev_err(dev, "ABI %u.%u not supported (need %u.%u)\n",
			VIOMMU_VERSION_MAJOR(version),
			VIOMMU_VERSION_MINOR(version),
			VIOMMU_DRIVER_MAJOR, VIOMMU_DRIVER_MINOR);
		return -ENODEV;
	}
	cap = lo_hi_readq(v->regs + VIOMMU_REG_CAP);
	if ((cap & (VIOMMU_CAP_CMDQ | VIOMMU_CAP_EVTQ | VIOMMU_CAP_MSIX)) !=
	    (VIOMMU_CAP_CMDQ | VIOMMU_CAP_EVTQ | VIOMMU_CAP_MSIX)) {
		dev_err(dev, "missing capabilities (cap %#llx)\n", cap);
		return -ENODEV;
	}
	/* The kernel maps in CPU pages: the granule must be one of them */
	v->pgsize_bitmap = lo_hi_readq(v->regs + VIOMMU_REG_PGSIZE_MASK);
	if (!(v->pgsize_bitmap & PAGE_SIZE) ||
	    (v->pgsize_bitmap & (PAGE_SIZE - 1))) {
		dev_err(dev, "page sizes %#llx do not fit the CPU's %#lx\n",
			v->pgsize_bitmap, PAGE_SIZE);
		return -ENODEV;
	}
	v->iova_bits = readl(v->regs + VIOMMU_REG_IOVA_BITS);
	v->domain_types = readl(v->regs + VIOMMU_REG_DOMAIN_TYPES);
	if (v->iova_bits < 32 || v->iova_bits > 64) {
		dev_err(dev, "bad IOVA width %u\n", v->iova_bits);
		return -ENODEV;
	}

	pci_set_master(pdev);
	ret = viommu_setup_queues(v, VIOMMU_VERSION_MINOR(version) >= 4 &&
					(cap & VIOMMU_CAP_CMDQ_LAZY));
	if (ret)
		return ret;
	ret = devm_add_action_or_reset(dev, viommu_hw_disable, v);
	if (ret)
		return ret;

	ret = pci_alloc_irq_vectors(pdev, VIOMMU_MSIX_VECTORS,
				    VIOMMU_MSIX_VECTORS, PCI_IRQ_MSIX);
	if (ret < 0)
		return ret;
	ret = devm_request_threaded_irq(dev,
					pci_irq_vector(pdev, VIOMMU_MSIX_EVENT),
					NULL, viommu_event_thread, IRQF_ONESHOT,
					"virt-iommu-evtq", v);
	if (ret)
		goto err_vectors;

	/*
	 * Translate from here on; functions without a domain still bypass
	 * until the core has attached every one it knows.
	 */
	ctrl = readl(v->regs + VIOMMU_REG_CONTROL) | VIOMMU_CTRL_ENABLE;
	writel(ctrl, v->regs + VIOMMU_REG_CONTROL);

	viommu_ops.pgsize_bitmap = v->pgsize_bitmap;
	viommu_global = v;
	ret = iommu_device_sysfs_add(&v->iommu, dev, NULL, "%s",
				     dev_name(dev));
	if (ret)
		goto err_global;
	/*
	 * Probes every PCI function and attaches it to its default domain.
	 * No hwdev: with one, the core would take our function's ACPI
	 * fwnode as the IOMMU's and skip every endpoint without a fwspec,
	 * which is all of them (we find endpoints by PCI hierarchy).
	 */
	ret = iommu_device_register(&v->iommu, &viommu_ops, NULL);
	if (ret)
		goto err_sysfs;

	/*
	 * Every function the core manages now has a domain; one without
	 * (a VF between its creation and its probe) is blocked.
	 */
	writel(ctrl & ~VIOMMU_CTRL_DEFAULT_BYPASS,
	       v->regs + VIOMMU_REG_CONTROL);

	v->debugfs = debugfs_create_dir("virt-iommu", NULL);
	debugfs_create_file("stats", 0444, v->debugfs, v, &viommu_stats_fops);
	debugfs_create_file("domains", 0444, v->debugfs, v,
			    &viommu_domains_fops);

	dev_info(dev, "ABI %u.%u, %u-bit IOVA, pages %#llx, domain types %#x\n",
		 VIOMMU_VERSION_MAJOR(version), VIOMMU_VERSION_MINOR(version),
		 v->iova_bits, v->pgsize_bitmap, v->domain_types);
	return 0;

err_sysfs:
	iommu_device_sysfs_remove(&v->iommu);
err_global:
	viommu_global = NULL;
	writel(VIOMMU_CTRL_DEFAULT_BYPASS, v->regs + VIOMMU_REG_CONTROL);
	devm_free_irq(dev, pci_irq_vector(pdev, VIOMMU_MSIX_EVENT), v);
err_vectors:
	pci_free_irq_vectors(pdev);
	return ret;
}

static const struct pci_device_id viommu_pci_ids[] = {
	{ PCI_DEVICE(VIOMMU_PCI_VENDOR_ID, VIOMMU_PCI_DEVICE_ID) },
	{ }
};

static struct pci_driver viommu_pci_driver = {
	.name		= "virt-iommu",
	.id_table	= viommu_pci_ids,
	.probe		= viommu_pci_probe,
	/* Built in, never unbound: the core has no way to unregister us */
	.driver.suppress_bind_attrs = true,
};

/*
 * After PCI enumeration (subsys_initcall) and resource assignment
 * (fs_initcall), before the endpoint drivers (device_initcall): every
 * endpoint gets its IOMMU DMA ops before its driver first maps anything.
 */
static int __init viommu_init(void)
{
	return pci_register_driver(&viommu_pci_driver);
}
fs_initcall_sync(viommu_init);
