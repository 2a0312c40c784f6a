/*
 * qtest helper: a command line QEMU must refuse, with a given message
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef QOS_CMDLINE_ERROR_H
#define QOS_CMDLINE_ERROR_H

/* One command line to refuse, for a table of test cases */
typedef struct QCmdlineError {
    const char *name;           /* test path component */
    const char *args;           /* appended to the machine's arguments */
    const char *error;          /* glob QEMU's stderr must match */
} QCmdlineError;

/*
 * Call from a GLib test function.  Runs the current test again in a
 * subprocess that starts QEMU with @args, and asserts that the subprocess
 * failed and that its stderr (QEMU's, which it inherits) matches the glob
 * @stderr_pattern.
 */
void qtest_assert_cmdline_error(const char *args, const char *stderr_pattern);

#endif /* QOS_CMDLINE_ERROR_H */
