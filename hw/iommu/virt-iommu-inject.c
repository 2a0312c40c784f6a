/*
 * virt-iommu: fault injection
 *
 * Makes a guest driver's error paths run on demand: commands completing
 * with a chosen status, late SYNC completions, lost event records and
 * refused ATTACHes, each armed for a count and disarmed after it.  Armed
 * from QMP (x-virt-iommu-inject) or, for boot-time cases, from the
 * x-inject property.  None of QEMU's other IOMMUs offers this; on
 * hardware error paths are reached by luck.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-virt-iommu.h"
#include "qemu/cutils.h"
#include "qemu/timer.h"
#include "virt-iommu-internal.h"

/* The longest a SYNC may be held: far beyond any driver's timeout */
#define VIRT_IOMMU_MAX_SYNC_DELAY_NS (60 * NANOSECONDS_PER_SECOND)

static const char *const opcode_names[] = {
    [VIRT_IOMMU_CMD_DOMAIN_ALLOC] = "domain-alloc",
    [VIRT_IOMMU_CMD_DOMAIN_FREE] = "domain-free",
    [VIRT_IOMMU_CMD_DOMAIN_SET_TYPE] = "set-type",
    [VIRT_IOMMU_CMD_ATTACH] = "attach",
    [VIRT_IOMMU_CMD_DETACH] = "detach",
    [VIRT_IOMMU_CMD_MAP] = "map",
    [VIRT_IOMMU_CMD_MAP_FIXED] = "map-fixed",
    [VIRT_IOMMU_CMD_UNMAP] = "unmap",
    [VIRT_IOMMU_CMD_INVALIDATE] = "invalidate",
    [VIRT_IOMMU_CMD_SYNC] = "sync",
    [VIRT_IOMMU_CMD_QUERY_STATS] = "query-stats",
};

static const char *const status_names[] = {
    [VIRT_IOMMU_S_OK] = "ok",
    [VIRT_IOMMU_S_UNSUPPORTED] = "unsupported",
    [VIRT_IOMMU_S_INVALID] = "invalid",
    [VIRT_IOMMU_S_NO_DOMAIN] = "no-domain",
    [VIRT_IOMMU_S_BUSY] = "busy",
    [VIRT_IOMMU_S_NO_SPACE] = "no-space",
    [VIRT_IOMMU_S_EXISTS] = "exists",
    [VIRT_IOMMU_S_NOT_MAPPED] = "not-mapped",
    [VIRT_IOMMU_S_PARTIAL] = "partial",
    [VIRT_IOMMU_S_RANGE] = "range",
    [VIRT_IOMMU_S_WRONG_TYPE] = "wrong-type",
    [VIRT_IOMMU_S_DMA_ERROR] = "dma-error",
    [VIRT_IOMMU_S_NO_ENDPOINT] = "no-endpoint",
};

/* Index of @name in @names (or @name as a number below @n); -1 if none */
static int lookup_name(const char *const *names, int n, const char *name)
{
    uint64_t v;

    for (int i = 0; i < n; i++) {
        if (names[i] && !strcmp(names[i], name)) {
            return i;
        }
    }
    if (!qemu_strtou64(name, NULL, 0, &v) && v < n && names[v]) {
        return v;
    }
    return -1;
}

bool virt_iommu_inject_arm(VirtIOMMUState *s, const char *kind,
                           int32_t opcode, int32_t status, uint32_t count,
                           uint64_t delay_ns, Error **errp)
{
    VirtIOMMUInject *inj = &s->inject;
    bool needs_status = !strcmp(kind, "status") ||
                        !strcmp(kind, "refuse-attach");

    if (needs_status && count &&
        (status < VIRT_IOMMU_S_UNSUPPORTED ||
         status >= ARRAY_SIZE(status_names) || !status_names[status])) {
        error_setg(errp, "virt-iommu: %s needs an error status "
                   "(unsupported ... no-endpoint), not %d", kind, status);
        return false;
    }
    if (!strcmp(kind, "status")) {
        if (opcode != -1 && (opcode < 0 || opcode >= ARRAY_SIZE(opcode_names) ||
                             !opcode_names[opcode])) {
            error_setg(errp, "virt-iommu: no command opcode %d", opcode);
            return false;
        }
        inj->opcode = opcode;
        inj->status = status;
        inj->status_left = count;
    } else if (!strcmp(kind, "sync-delay")) {
        if (count && (!delay_ns || delay_ns > VIRT_IOMMU_MAX_SYNC_DELAY_NS)) {
            error_setg(errp, "virt-iommu: sync-delay needs a delay of 1 ns "
                       "to 60 s, not %" PRIu64 " ns", delay_ns);
            return false;
        }
        inj->sync_delay_ns = delay_ns;
        inj->sync_left = count;
    } else if (!strcmp(kind, "drop-events")) {
        s->events.inject_drops = count;
    } else if (!strcmp(kind, "refuse-attach")) {
        inj->attach_status = status;
        inj->attach_left = count;
    } else {
        error_setg(errp, "virt-iommu: no injection '%s' (status, sync-delay, "
                   "drop-events, refuse-attach)", kind);
        return false;
    }
    return true;
}

/* One "KIND:COUNT[:ARG[:ARG]]" */
static bool virt_iommu_inject_parse_one(VirtIOMMUState *s, const char *spec,
                                        Error **errp)
{
    g_auto(GStrv) f = g_strsplit(spec, ":", 0);
    guint n = g_strv_length(f);
    int32_t opcode = -1, status = 0;
    uint64_t count, delay = 0;

    if (n < 2 || qemu_strtou64(f[1], NULL, 0, &count) || count > UINT32_MAX) {
        error_setg(errp, "virt-iommu: x-inject '%s' is not KIND:COUNT[:ARG...]",
                   spec);
        return false;
    }
    if (!strcmp(f[0], "status") && n == 4) {
        if (strcmp(f[2], "any")) {
            opcode = lookup_name(opcode_names, ARRAY_SIZE(opcode_names), f[2]);
            if (opcode < 0) {
                error_setg(errp, "virt-iommu: x-inject: no command '%s'", f[2]);
                return false;
            }
        }
        status = lookup_name(status_names, ARRAY_SIZE(status_names), f[3]);
    } else if (!strcmp(f[0], "refuse-attach") && n == 3) {
        status = lookup_name(status_names, ARRAY_SIZE(status_names), f[2]);
    } else if (!strcmp(f[0], "sync-delay") && n == 3) {
        if (qemu_strtou64(f[2], NULL, 0, &delay)) {
            error_setg(errp, "virt-iommu: x-inject: '%s' is no delay in ns",
                       f[2]);
            return false;
        }
    } else if (strcmp(f[0], "drop-events") || n != 2) {
        error_setg(errp, "virt-iommu: x-inject '%s': expected status:N:OPCODE:"
                   "STATUS, sync-delay:N:NS, drop-events:N or "
                   "refuse-attach:N:STATUS", spec);
        return false;
    }
    return virt_iommu_inject_arm(s, f[0], opcode, status, count, delay, errp);
}

bool virt_iommu_inject_parse(VirtIOMMUState *s, const char *spec,
                             Error **errp)
{
    g_auto(GStrv) parts = g_strsplit(spec, ",", 0);

    for (guint i = 0; parts[i]; i++) {
        if (!virt_iommu_inject_parse_one(s, parts[i], errp)) {
            return false;
        }
    }
    return true;
}

void virt_iommu_inject_reset(VirtIOMMUState *s)
{
    memset(&s->inject, 0, sizeof(s->inject));
    s->inject.opcode = -1;
    s->events.inject_drops = 0;
    timer_del(s->sync.timer);
    s->sync.pending = false;
}

void qmp_x_virt_iommu_inject(const char *device, VirtIommuInjectKind kind,
                             uint32_t count, const char *opcode,
                             const char *status, bool has_delay_ns,
                             uint64_t delay_ns, Error **errp)
{
    Object *obj = object_resolve_path_type(device, TYPE_VIRT_IOMMU, NULL);
    g_autofree char *spec = NULL;

    if (!obj) {
        error_setg(errp, "virt-iommu: no virt-iommu '%s'", device);
        return;
    }
    /* One spelling for the command line and QMP: the x-inject syntax */
    switch (kind) {
    case VIRT_IOMMU_INJECT_KIND_STATUS:
        spec = g_strdup_printf("status:%u:%s:%s", count, opcode ?: "any",
                               status ?: "ok");
        break;
    case VIRT_IOMMU_INJECT_KIND_SYNC_DELAY:
        spec = g_strdup_printf("sync-delay:%u:%" PRIu64, count,
                               has_delay_ns ? delay_ns : 0);
        break;
    case VIRT_IOMMU_INJECT_KIND_DROP_EVENTS:
        spec = g_strdup_printf("drop-events:%u", count);
        break;
    case VIRT_IOMMU_INJECT_KIND_REFUSE_ATTACH:
        spec = g_strdup_printf("refuse-attach:%u:%s", count, status ?: "ok");
        break;
    default:
        g_assert_not_reached();
    }
    virt_iommu_inject_parse(VIRT_IOMMU(obj), spec, errp);
}
