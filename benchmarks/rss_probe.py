"""Peak-RSS probe, run in a fresh process by the "memory" case.

usage: rss_probe.py PEER PATH   ->  prints one JSON line

Opens the file, takes the peak RSS as the baseline, reads ds[...] and takes the
peak RSS again; the difference is what the read added on top of the process.
Only this process is counted, not worker processes.

Peak RSS comes from VmHWM in /proc/self/status: getrusage's ru_maxrss would be
the natural call, but on Linux a child inherits the parent's ru_maxrss through
fork + exec (the harness already holds the dataset), so it would read as the
parent's peak. Before the baseline the high-water mark is reset to the current
RSS (``echo 5 > /proc/self/clear_refs``) so that import-time peaks don't hide
the read. ru_maxrss is reported too; it is used when /proc is unavailable.
"""
import json
import os
import resource
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

import numpy as np  # noqa: E402

from peers import peer_by_name  # noqa: E402


def ru_maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def peak_rss_bytes() -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return ru_maxrss_bytes()


def reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def main(name: str, path: str) -> None:
    peer = peer_by_name(name)
    with peer.open(path) as ds:
        reset = reset_peak()
        before, ru_before = peak_rss_bytes(), ru_maxrss_bytes()
        out = np.asarray(ds[...])
        after, ru_after = peak_rss_bytes(), ru_maxrss_bytes()
    print(json.dumps({"baseline_bytes": before, "peak_bytes": after,
                      "delta_bytes": after - before, "out_nbytes": out.nbytes,
                      "peak_reset": reset, "ru_maxrss_before": ru_before,
                      "ru_maxrss_after": ru_after}))


if __name__ == "__main__":
    main(*sys.argv[1:3])
