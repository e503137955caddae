"""Runs one command and measures its wall time and peak RSS.

Peak RSS comes from GNU time (`/usr/bin/time -f %M`), which reads `wait4`'s rusage: Linux reports
the maximum of the process and of every descendant it waited for, so a shell wrapper
(`sh -c 'cp -r ... && sync'`) still reports the biggest process. The rusage of our own child cannot
be used directly: Linux carries the peak RSS across exec, so a child forked from this Python
process would report at least this process's size; GNU time is small, so its child starts small. Each command runs in its own session so that a timeout can kill
the whole group, helpers included.
"""

import dataclasses
import os
import signal
import subprocess
import threading
import time


@dataclasses.dataclass
class Sample:
    """One measured run."""

    wall: float  # seconds
    rss_kb: int  # peak resident set size, KiB
    status: int  # exit status, or -signal
    timed_out: bool = False

    @property
    def ok(self):
        return self.status == 0 and not self.timed_out


TIME = "/usr/bin/time"


def run(argv, log_path, env=None, cwd=None, timeout=600, stdin_data=None):
    """Runs `argv` with stdout+stderr appended to `log_path`; returns a Sample."""
    rss_file = log_path + ".rss"
    argv_timed = [TIME, "-q", "-f", "%M", "-o", rss_file, *argv]
    with open(log_path, "ab") as log:
        log.write(f"\n$ {' '.join(argv)}\n".encode())
        log.flush()
        start = time.perf_counter()
        proc = subprocess.Popen(argv_timed, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                stdin=subprocess.PIPE if stdin_data is not None
                                else subprocess.DEVNULL,
                                start_new_session=True)
        if stdin_data is not None:
            try:
                proc.stdin.write(stdin_data)
                proc.stdin.close()
            except BrokenPipeError:
                pass
        timed_out = threading.Event()

        def kill():
            timed_out.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, _usage = os.wait4(proc.pid, 0)
        except BaseException:
            # Interrupted (Ctrl-C): leave no tool running behind us.
            kill()
            proc.wait()
            raise
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        rss = _read_rss(rss_file)
        log.write(f"# exit {proc.returncode}, {wall:.3f} s, maxrss {rss} KiB\n".encode())
    return Sample(wall=wall, rss_kb=rss, status=proc.returncode, timed_out=timed_out.is_set())


def _read_rss(path):
    """GNU time's %M (KiB); 0 when the child was killed before time could write it."""
    try:
        with open(path) as f:
            lines = [l for l in f.read().split() if l.isdigit()]
        os.unlink(path)
        return int(lines[-1]) if lines else 0
    except OSError:
        return 0
