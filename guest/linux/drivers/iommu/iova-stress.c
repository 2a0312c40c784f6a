// SPDX-License-Identifier: GPL-2.0-only
/*
 * Depot pops on demand, for the iova_magazine kmemleak scenario of the
 * virt-iommu project (docs/devel/seed-iova-magazine.rst there).
 *
 * Two kthreads share a private IOVA domain.  One, bound to one CPU, frees
 * a burst of single-page IOVAs: its rcache pushes DEPTH full magazines
 * onto the depot.  The other, bound to another CPU, then allocates them
 * again a magazine at a time, POPS times a second: each allocation that
 * finds its CPU's magazines empty pops the depot head, down to the number
 * of CPUs online (what the depot trim leaves alone), and hands the IOVAs
 * back for the next burst.  While it drains, the magazines under the head
 * stay as they are and no new magazine is pushed, which is the situation
 * of the kmemleak false positive: a pop overwrites the only pointer to the
 * rest of the depot between kmemleak's scan of the rcache and its scan of
 * the old head, and nothing scanned later points to the rest.  (A pop
 * paired with a push of a new magazine, as a tight alloc/free loop makes,
 * hides it: the new head is an object kmemleak rescans because it
 * changed, and it points to the rest.)
 *
 * debugfs iova-stress/run: write "SECONDS [ALLOC_CPU FREE_CPU [DEPTH
 * [POPS]]]" to run (the write returns when the run has ended; POPS 0: as
 * fast as the CPU allocates); read it for the last run's figures.  The domain lives until the next run, so that
 * its magazines stay in the accounting walk (debugfs iova/magazines).
 */

#define pr_fmt(fmt) "iova-stress: " fmt

#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/iova.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

/* iova.c's IOVA_MAG_SIZE: IOVAs per magazine */
#define STRESS_BATCH		127
#define STRESS_MAX_SECONDS	3600
#define STRESS_MAX_DEPTH	4096
#define STRESS_MAX_POPS		10000

struct iova_stress {
	struct iova_domain	iovad;
	unsigned long		limit_pfn;
	unsigned long		*pfns;		/* the IOVAs in transit */
	unsigned int		nr;		/* how many */
	struct completion	allocated;	/* they are ready to free */
	struct completion	freed;		/* they are freed */
	struct completion	done;		/* completed by each thread */
	unsigned long		deadline;	/* jiffies */
	bool			stop;
	int			err;
	/* Parameters and results */
	unsigned int		alloc_cpu, free_cpu, depth, pops;
	unsigned long		cycles;		/* bursts freed and drained */
	unsigned long		batches;	/* magazines' worth allocated */
	unsigned int		msecs;
};

static DEFINE_MUTEX(stress_lock);	/* one run at a time; guards @last */
static struct iova_stress *last;

/* Allocate @n more IOVAs into @st->pfns */
static bool stress_alloc(struct iova_stress *st, unsigned int n)
{
	for (; n; n--) {
		st->pfns[st->nr] = alloc_iova_fast(&st->iovad, 1, st->limit_pfn,
						   true);
		if (!st->pfns[st->nr]) {
			st->err = -ENOSPC;
			return false;
		}
		st->nr++;
	}
	return true;
}

static void stress_hand_over(struct iova_stress *st)
{
	complete(&st->allocated);
	wait_for_completion(&st->freed);
	st->nr = 0;
}

static int stress_alloc_thread(void *data)
{
	struct iova_stress *st = data;
	unsigned int keep = num_online_cpus();
	unsigned int gap = st->pops ? USEC_PER_SEC / st->pops : 0;

	/* The first burst also fills the freeing CPU's loaded and prev */
	if (!stress_alloc(st, (st->depth + 2) * STRESS_BATCH + 1))
		st->stop = true;
	while (!st->stop) {
		stress_hand_over(st);
		st->cycles++;
		for (unsigned int i = keep; i < st->depth && !st->stop; i++) {
			if (!stress_alloc(st, STRESS_BATCH))
				st->stop = true;
			st->batches++;
			if (gap)
				usleep_range(gap, gap + gap / 8);
			else
				cond_resched();
			if (time_after(jiffies, st->deadline))
				st->stop = true;
		}
	}
	stress_hand_over(st);
	complete(&st->done);
	return 0;
}

static int stress_free_thread(void *data)
{
	struct iova_stress *st = data;
	bool stop;

	do {
		wait_for_completion(&st->allocated);
		stop = st->stop;
		for (unsigned int i = 0; i < st->nr; i++)
			free_iova_fast(&st->iovad, st->pfns[i], 1);
		complete(&st->freed);
	} while (!stop);
	complete(&st->done);
	return 0;
}

static void stress_free(struct iova_stress *st)
{
	if (!st)
		return;
	put_iova_domain(&st->iovad);
	iova_cache_put();
	kvfree(st->pfns);
	kfree(st);
}

static int stress_run(unsigned int seconds, unsigned int alloc_cpu,
		      unsigned int free_cpu, unsigned int depth, unsigned int pops)
{
	struct task_struct *a, *f;
	struct iova_stress *st;
	unsigned long start;
	int ret;

	/* The previous run's domain goes first: its trim may still be running */
	stress_free(last);
	last = NULL;
	st = kzalloc(sizeof(*st), GFP_KERNEL);
	if (!st)
		return -ENOMEM;
	st->depth = depth;
	st->pops = pops;
	st->pfns = kvcalloc((depth + 2) * STRESS_BATCH + 1, sizeof(*st->pfns),
			    GFP_KERNEL);
	if (!st->pfns) {
		kfree(st);
		return -ENOMEM;
	}
	ret = iova_cache_get();
	if (ret) {
		kvfree(st->pfns);
		kfree(st);
		return ret;
	}
	init_iova_domain(&st->iovad, PAGE_SIZE, 1);
	ret = iova_domain_init_rcaches(&st->iovad);
	if (ret) {
		put_iova_domain(&st->iovad);
		iova_cache_put();
		kvfree(st->pfns);
		kfree(st);
		return ret;
	}
	st->limit_pfn = DMA_BIT_MASK(32) >> PAGE_SHIFT;
	st->alloc_cpu = alloc_cpu;
	st->free_cpu = free_cpu;
	init_completion(&st->allocated);
	init_completion(&st->freed);
	init_completion(&st->done);
	st->deadline = jiffies + seconds * HZ;

	a = kthread_create(stress_alloc_thread, st, "iova-stress-alloc");
	f = kthread_create(stress_free_thread, st, "iova-stress-free");
	if (IS_ERR(a) || IS_ERR(f)) {
		if (!IS_ERR(a))
			kthread_stop(a);
		if (!IS_ERR(f))
			kthread_stop(f);
		stress_free(st);
		return -ENOMEM;
	}
	kthread_bind(a, alloc_cpu);
	kthread_bind(f, free_cpu);
	start = jiffies;
	wake_up_process(f);
	wake_up_process(a);
	/*
	 * Both threads end on their own once the deadline passes; completing
	 * @done is the last thing each does with @st.  (kthread_stop() would
	 * keep a thread that has not started yet from ever running.)
	 */
	wait_for_completion(&st->done);
	wait_for_completion(&st->done);
	st->msecs = jiffies_to_msecs(jiffies - start);
	pr_info("%lu bursts of %u magazines, %lu drained, in %u ms (alloc on CPU %u, free on CPU %u), error %d\n",
		st->cycles, depth, st->batches, st->msecs, alloc_cpu, free_cpu,
		st->err);

	/* This run's domain stays to be walked until the next run */
	last = st;
	return st->err;
}

static ssize_t stress_write(struct file *file, const char __user *ubuf,
			    size_t len, loff_t *ppos)
{
	unsigned int seconds, alloc_cpu = 0, free_cpu = 1, depth = 256, pops = 100;
	char buf[64];
	int ret, n;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	n = sscanf(buf, "%u %u %u %u %u", &seconds, &alloc_cpu, &free_cpu,
		   &depth, &pops);
	if (n != 1 && n < 3)
		return -EINVAL;
	if (!seconds || seconds > STRESS_MAX_SECONDS || alloc_cpu == free_cpu ||
	    alloc_cpu >= nr_cpu_ids || free_cpu >= nr_cpu_ids ||
	    !cpu_online(alloc_cpu) || !cpu_online(free_cpu) ||
	    depth > STRESS_MAX_DEPTH || pops > STRESS_MAX_POPS)
		return -EINVAL;

	mutex_lock(&stress_lock);
	ret = stress_run(seconds, alloc_cpu, free_cpu, depth, pops);
	mutex_unlock(&stress_lock);
	return ret ?: len;
}

static int stress_show(struct seq_file *s, void *unused)
{
	mutex_lock(&stress_lock);
	if (last)
		seq_printf(s, "bursts %lu depth %u drained %lu pops_per_s %u msecs %u alloc_cpu %u free_cpu %u err %d\n",
			   last->cycles, last->depth, last->batches, last->pops,
			   last->msecs, last->alloc_cpu, last->free_cpu,
			   last->err);
	mutex_unlock(&stress_lock);
	return 0;
}

static int stress_open(struct inode *inode, struct file *file)
{
	return single_open(file, stress_show, NULL);
}

static const struct file_operations stress_fops = {
	.open		= stress_open,
	.read		= seq_read,
	.write		= stress_write,
	.llseek		= seq_lseek,
	.release	= single_release,
};

static int __init iova_stress_init(void)
{
	debugfs_create_file("run", 0644,
			    debugfs_create_dir("iova-stress", NULL), NULL,
			    &stress_fops);
	return 0;
}
late_initcall(iova_stress_init);
