/*
 * qtest helper: a command line QEMU must refuse, with a given message
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "../libqtest.h"
#include "cmdline-error.h"

void qtest_assert_cmdline_error(const char *args, const char *stderr_pattern)
{
    if (g_test_subprocess()) {
        QTestState *qts = qtest_init(args);

        /* Only reached if QEMU accepted the command line. */
        qtest_quit(qts);
        return;
    }
    g_test_trap_subprocess(NULL, 0, 0);
    g_test_trap_assert_failed();
    g_test_trap_assert_stderr(stderr_pattern);
}
