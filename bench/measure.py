"""What every measured child process reports about itself: CPU time and peak RSS."""

from __future__ import annotations

import resource


def peak_rss_mb() -> float:
    """Peak RSS of this process since it started running this program.

    ``VmHWM``, not ``getrusage().ru_maxrss``: Linux carries ru_maxrss over ``exec``, so a child
    forked from a big parent would report the parent's size.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # not Linux


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
