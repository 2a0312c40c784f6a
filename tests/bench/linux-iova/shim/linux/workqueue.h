/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Kernel shim: delayed work on one worker thread (kshim_init() starts it),
 * standing in for system_wq.  Queueing costs what it costs in Linux when
 * the work is already pending, one atomic test-and-set of its pending
 * flag; otherwise the work joins the worker's list.  As in Linux, the flag
 * is cleared just before the function runs, so the function may queue
 * itself again.  Jiffies are milliseconds here (HZ 1000).
 */
#ifndef KSHIM_LINUX_WORKQUEUE_H
#define KSHIM_LINUX_WORKQUEUE_H

#include <linux/types.h>

#define HZ 1000

struct work_struct;
typedef void (*work_func_t)(struct work_struct *work);

struct work_struct {
    work_func_t func;
};

struct delayed_work {
    struct work_struct work;
    int pending;               /* queued and not started; atomic */
    u64 due_ns;                /* CLOCK_MONOTONIC; under the worker lock */
    struct delayed_work *next; /* in the worker's list */
};

static inline unsigned long msecs_to_jiffies(unsigned int ms)
{
    return ms;
}

static inline void INIT_DELAYED_WORK(struct delayed_work *dw, work_func_t fn)
{
    dw->work.func = fn;
    dw->pending = 0;
    dw->due_ns = 0;
    dw->next = NULL;
}

void kshim_queue_delayed_work(struct delayed_work *dw, unsigned long delay);

/* false if it was already pending; delay in jiffies. */
static inline bool schedule_delayed_work(struct delayed_work *dw,
                                         unsigned long delay)
{
    if (__atomic_exchange_n(&dw->pending, 1, __ATOMIC_ACQ_REL)) {
        return false;
    }
    kshim_queue_delayed_work(dw, delay);
    return true;
}

/* Dequeues dw and waits for a run in progress; true if it was pending. */
bool cancel_delayed_work_sync(struct delayed_work *dw);

#endif
