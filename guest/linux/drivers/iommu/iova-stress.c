// SPDX-License-Identifier: GPL-2.0-only
/*
 * Depot pops on demand, for the iova_magazine kmemleak scenario of the
 * virt-iommu project (docs/devel/seed-iova-magazine.rst there).
 *
 * Two kthreads share a private IOVA domain: one bound to one CPU allocates
 * a magazine's worth of single-page IOVAs, hands them over, and one bound
 * to another CPU frees them.  Every round the freeing CPU's rcache pushes a
 * full magazine onto the depot and the allocating CPU's pops it: the depot
 * head churns at the rounds' rate while the magazines under it stay as
 * they are, which is the situation of the kmemleak false positive (a pop
 * overwrites the only pointer to the rest of the depot between kmemleak's
 * scan of the rcache and its scan of the old head).
 *
 * debugfs iova-stress/run: write "SECONDS [ALLOC_CPU FREE_CPU [KEEP]]" to run
 * (the write returns when the run has ended); read it for the last run's
 * figures.  KEEP is the number of magazines kept under the churning depot
 * head (default: the CPUs online less one, the most the depot trim
 * leaves alone); more makes the trim run.  The domain lives until the next run, so that its magazines
 * stay in the accounting walk (debugfs iova/magazines) after the run.
 */

#define pr_fmt(fmt) "iova-stress: " fmt

#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/debugfs.h>
#include <linux/iova.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/mutex.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

/* iova.c's IOVA_MAG_SIZE: one round fills and drains one magazine */
#define STRESS_BATCH		127
#define STRESS_MAX_SECONDS	3600
#define STRESS_MAX_KEEP		64

struct iova_stress {
	struct iova_domain	iovad;
	unsigned long		limit_pfn;
	unsigned long		*pfns;		/* the batch in transit */
	unsigned int		nr;		/* its length */
	struct completion	allocated;	/* the batch is ready to free */
	struct completion	freed;		/* the batch is freed */
	unsigned long		deadline;	/* jiffies */
	bool			stop;
	int			err;
	/* Results */
	unsigned int		alloc_cpu, free_cpu, keep;
	unsigned long		rounds;
	unsigned long		alloc_failures;
	unsigned int		msecs;
};

static DEFINE_MUTEX(stress_lock);	/* one run at a time; guards @last */
static struct iova_stress *last;

static bool stress_alloc_batch(struct iova_stress *st, unsigned int n)
{
	for (st->nr = 0; st->nr < n; st->nr++) {
		st->pfns[st->nr] = alloc_iova_fast(&st->iovad, 1, st->limit_pfn,
						   true);
		if (!st->pfns[st->nr]) {
			st->alloc_failures++;
			return false;
		}
	}
	return true;
}

static int stress_alloc_thread(void *data)
{
	struct iova_stress *st = data;
	/*
	 * First the depot's stable part: enough IOVAs that the freeing CPU's
	 * loaded and prev fill and keep + 1 magazines reach the depot.
	 */
	unsigned int n = (st->keep + 2) * STRESS_BATCH + 1;

	while (!st->stop) {
		if (!stress_alloc_batch(st, n)) {
			st->err = -ENOSPC;
			st->stop = true;
		}
		if (time_after(jiffies, st->deadline))
			st->stop = true;
		complete(&st->allocated);
		wait_for_completion(&st->freed);
		if (n == STRESS_BATCH)
			st->rounds++;
		n = STRESS_BATCH;
	}
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
	return 0;
}

static void stress_free(struct iova_stress *st)
{
	if (!st)
		return;
	put_iova_domain(&st->iovad);
	iova_cache_put();
	kfree(st->pfns);
	kfree(st);
}

static int stress_run(unsigned int seconds, unsigned int alloc_cpu,
		      unsigned int free_cpu, unsigned int keep)
{
	struct task_struct *a, *f;
	struct iova_stress *st;
	unsigned long start;
	int ret;

	st = kzalloc(sizeof(*st), GFP_KERNEL);
	if (!st)
		return -ENOMEM;
	st->keep = keep;
	st->pfns = kcalloc((st->keep + 2) * STRESS_BATCH + 1,
			   sizeof(*st->pfns), GFP_KERNEL);
	if (!st->pfns) {
		kfree(st);
		return -ENOMEM;
	}
	ret = iova_cache_get();
	if (ret) {
		kfree(st->pfns);
		kfree(st);
		return ret;
	}
	init_iova_domain(&st->iovad, PAGE_SIZE, 1);
	ret = iova_domain_init_rcaches(&st->iovad);
	if (ret) {
		put_iova_domain(&st->iovad);
		iova_cache_put();
		kfree(st->pfns);
		kfree(st);
		return ret;
	}
	st->limit_pfn = DMA_BIT_MASK(32) >> PAGE_SHIFT;
	st->alloc_cpu = alloc_cpu;
	st->free_cpu = free_cpu;
	init_completion(&st->allocated);
	init_completion(&st->freed);
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
	get_task_struct(a);
	get_task_struct(f);
	start = jiffies;
	wake_up_process(f);
	wake_up_process(a);
	/* Both threads return once the deadline passes */
	kthread_stop(a);
	kthread_stop(f);
	put_task_struct(a);
	put_task_struct(f);
	st->msecs = jiffies_to_msecs(jiffies - start);
	pr_info("%lu rounds in %u ms (alloc on CPU %u, free on CPU %u, %u magazines kept), %lu allocation failures\n",
		st->rounds, st->msecs, alloc_cpu, free_cpu, st->keep,
		st->alloc_failures);

	/* The previous run's domain goes; this one stays to be walked */
	stress_free(last);
	last = st;
	return st->err;
}

static ssize_t stress_write(struct file *file, const char __user *ubuf,
			    size_t len, loff_t *ppos)
{
	unsigned int seconds, alloc_cpu = 0, free_cpu = 1;
	unsigned int keep = max(num_online_cpus(), 2U) - 1;
	char buf[64];
	int ret, n;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	n = sscanf(buf, "%u %u %u %u", &seconds, &alloc_cpu, &free_cpu, &keep);
	if (n != 1 && n != 3 && n != 4)
		return -EINVAL;
	if (!seconds || seconds > STRESS_MAX_SECONDS || alloc_cpu == free_cpu ||
	    alloc_cpu >= nr_cpu_ids || free_cpu >= nr_cpu_ids ||
	    !cpu_online(alloc_cpu) || !cpu_online(free_cpu) || !keep ||
	    keep > STRESS_MAX_KEEP)
		return -EINVAL;

	mutex_lock(&stress_lock);
	ret = stress_run(seconds, alloc_cpu, free_cpu, keep);
	mutex_unlock(&stress_lock);
	return ret ?: len;
}

static int stress_show(struct seq_file *s, void *unused)
{
	mutex_lock(&stress_lock);
	if (last)
		seq_printf(s, "rounds %lu msecs %u alloc_cpu %u free_cpu %u keep %u alloc_failures %lu err %d\n",
			   last->rounds, last->msecs, last->alloc_cpu,
			   last->free_cpu, last->keep, last->alloc_failures,
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
