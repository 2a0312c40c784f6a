// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Kernel shim: one worker thread that runs delayed work when it falls due
 * (linux/workqueue.h), and the kshim_timer wrapper over it (kshim.h).
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>

#include "kshim.h"

#include <linux/kernel.h>
#include <linux/smp.h>
#include <linux/workqueue.h>

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;         /* new work, or stop */
    pthread_cond_t done;         /* `running` finished */
    struct delayed_work *queued; /* unordered; a handful at most */
    struct delayed_work *running;
    bool started, stop;
    pthread_t thread;
} wq = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .done = PTHREAD_COND_INITIALIZER,
};

static u64 now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (u64)ts.tv_sec * 1000000000u + (u64)ts.tv_nsec;
}

/* Unlinks dw from the queue; true if it was there.  wq.lock held. */
static bool unqueue(struct delayed_work *dw)
{
    for (struct delayed_work **p = &wq.queued; *p; p = &(*p)->next) {
        if (*p == dw) {
            *p = dw->next;
            dw->next = NULL;
            return true;
        }
    }
    return false;
}

static void *worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&wq.lock);
    while (!wq.stop) {
        struct delayed_work *first = wq.queued;

        for (struct delayed_work *dw = wq.queued; dw; dw = dw->next) {
            if (dw->due_ns < first->due_ns) {
                first = dw;
            }
        }
        if (!first) {
            pthread_cond_wait(&wq.wake, &wq.lock);
            continue;
        }
        if (first->due_ns > now_ns()) {
            const struct timespec until = {
                .tv_sec = (time_t)(first->due_ns / 1000000000u),
                .tv_nsec = (long)(first->due_ns % 1000000000u),
            };
            pthread_cond_timedwait(&wq.wake, &wq.lock, &until);
            continue;
        }
        unqueue(first);
        wq.running = first;
        /* As Linux: cleared before the call, so it may queue itself. */
        __atomic_store_n(&first->pending, 0, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&wq.lock);
        first->work.func(&first->work);
        pthread_mutex_lock(&wq.lock);
        wq.running = NULL;
        pthread_cond_broadcast(&wq.done);
    }
    pthread_mutex_unlock(&wq.lock);
    return NULL;
}

void kshim_init(unsigned int ncpus)
{
    pthread_condattr_t attr;

    BUG_ON(ncpus == 0 || wq.started);
    nr_cpu_ids = ncpus;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&wq.wake, &attr);
    pthread_condattr_destroy(&attr);
    BUG_ON(pthread_create(&wq.thread, NULL, worker, NULL) != 0);
    wq.started = true;
}

void kshim_exit(void)
{
    if (!wq.started) {
        return;
    }
    pthread_mutex_lock(&wq.lock);
    wq.stop = true;
    pthread_cond_signal(&wq.wake);
    pthread_mutex_unlock(&wq.lock);
    pthread_join(wq.thread, NULL);
    wq.started = false;
}

static void queue_in_ns(struct delayed_work *dw, u64 delay_ns)
{
    pthread_mutex_lock(&wq.lock);
    dw->due_ns = now_ns() + delay_ns;
    dw->next = wq.queued;
    wq.queued = dw;
    pthread_cond_signal(&wq.wake);
    pthread_mutex_unlock(&wq.lock);
}

void kshim_queue_delayed_work(struct delayed_work *dw, unsigned long delay)
{
    queue_in_ns(dw, (u64)delay * (1000000000u / HZ));
}

/*
 * As Linux's: on return dw is neither queued nor running, even if it
 * queued itself again meanwhile.  Queueing it from another thread at the
 * same time is the caller's bug, as in Linux.
 */
bool cancel_delayed_work_sync(struct delayed_work *dw)
{
    bool was_queued = false;

    pthread_mutex_lock(&wq.lock);
    for (;;) {
        if (unqueue(dw)) {
            __atomic_store_n(&dw->pending, 0, __ATOMIC_RELEASE);
            was_queued = true;
        } else if (wq.running == dw) {
            pthread_cond_wait(&wq.done, &wq.lock);
        } else if (__atomic_load_n(&dw->pending, __ATOMIC_ACQUIRE)) {
            /* Between the flag and the queue: let the queuer finish. */
            pthread_mutex_unlock(&wq.lock);
            sched_yield();
            pthread_mutex_lock(&wq.lock);
        } else {
            break;
        }
    }
    pthread_mutex_unlock(&wq.lock);
    return was_queued;
}

struct kshim_timer {
    struct delayed_work dw; /* first: the work is the timer */
    void (*fn)(void *arg);
    void *arg;
};

static void timer_fn(struct work_struct *work)
{
    struct kshim_timer *t = container_of(work, struct kshim_timer, dw.work);

    t->fn(t->arg);
}

struct kshim_timer *kshim_timer_new(void (*fn)(void *arg), void *arg)
{
    struct kshim_timer *t = calloc(1, sizeof(*t));

    if (t) {
        INIT_DELAYED_WORK(&t->dw, timer_fn);
        t->fn = fn;
        t->arg = arg;
    }
    return t;
}

void kshim_timer_arm(struct kshim_timer *timer, uint64_t delay_ns)
{
    if (!__atomic_exchange_n(&timer->dw.pending, 1, __ATOMIC_ACQ_REL)) {
        queue_in_ns(&timer->dw, delay_ns);
    }
}

void kshim_timer_free(struct kshim_timer *timer)
{
    if (timer) {
        cancel_delayed_work_sync(&timer->dw);
        free(timer);
    }
}
