"""bench/live: continuous sync. How fast a change reaches the other side while a sync daemon
runs (pimlink daemon against OfflineIMAP's autorefresh + idlefolders), what the daemon costs
while nothing changes, and whether its memory stays flat over many changes (issue 14).

Every figure comes from observed effects, never from the tools' own logs: a change is made
(an IMAP APPEND or STORE on the server; a new file or a flag rename in the local Maildir) and
the clock stops when the other side shows it (the local tree, or the server's Maildir on disk,
is looked at every few milliseconds). After the runs both sides are compared message by message
(Message-ID and flags); a daemon that was fast but wrong fails the bench.
"""

import argparse
import imaplib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from . import corpus, deps, fsutil, mutate, report, tools, verify
from .servers import HOST, PASSWORD, Dovecot

ACCOUNT = "live"
POLL = 0.005  # seconds between looks at the watched side
SIZES = {
    # messages in the account, changes each way, idle seconds, soak changes
    "quick": (500, 20, 60, 200),
    "full": (20000, 50, 600, 5000),
}


def parse_args(argv):
    p = argparse.ArgumentParser(prog="bench/live", description=__doc__.split("\n\n")[0])
    p.add_argument("--full", action="store_const", const="full", dest="size", default="quick",
                   help="20,000 messages, 50 changes each way, 10 idle minutes, 5,000-change soak")
    p.add_argument("--changes", type=int, help="changes each way (default: by size)")
    p.add_argument("--idle", type=int, help="idle seconds measured (default: by size)")
    p.add_argument("--soak", type=int, help="changes in the soak (0: no soak)")
    p.add_argument("--soak-batch", type=int, default=10,
                   help="soak changes made at once before waiting for them (default 10)")
    p.add_argument("--messages", type=int, help="messages in the account (default: by size)")
    p.add_argument("--tools", default="pimlink,offlineimap", help="comma-separated")
    p.add_argument("--autorefresh", type=float, default=0.5,
                   help="OfflineIMAP's autorefresh, minutes (default %(default)s)")
    p.add_argument("--pimlink", help="pimlink binary (default: $PIMLINK or target/release)")
    p.add_argument("--seed", type=int, default=20241207)
    p.add_argument("--no-install", action="store_true")
    p.add_argument("--keep", action="store_true")
    p.add_argument("--markdown", help="also write the tables here")
    args = p.parse_args(argv)
    messages, changes, idle, soak = SIZES[args.size]
    args.messages = messages if args.messages is None else args.messages
    args.changes = changes if args.changes is None else args.changes
    args.idle = idle if args.idle is None else args.idle
    args.soak = soak if args.soak is None else args.soak
    args.tools = args.tools.split(",")
    return args


# ---- the two sides, as the bench sees them ----

def inbox_state(folder):
    """(message files, files with the F flag) of one Maildir folder: the cheap look that tells
    whether a change arrived."""
    count = flagged = 0
    for sub in ("new", "cur"):
        for name in os.listdir(os.path.join(folder, sub)):
            if name.startswith("."):
                continue
            count += 1
            flagged += "F" in verify.flags_of(name)
    return count, flagged


def wait_for(folder, want, deadline, poll=POLL):
    while time.monotonic() < deadline:
        if inbox_state(folder) == want:
            return time.monotonic()
        time.sleep(poll)
    return None


# ---- the contenders ----

class Contender:
    def __init__(self, work, dovecot, args):
        self.dovecot = dovecot
        self.args = args
        self.dir = os.path.join(work, "tools", self.name)
        self.mail = os.path.join(self.dir, "mail")
        self.state = os.path.join(self.dir, "state")
        self.home = os.path.join(self.dir, "home")
        self.log = os.path.join(work, "logs", f"{self.name}.log")
        self.process = None
        for d in (self.mail, self.state, self.home):
            os.makedirs(d)
        self.write_config()

    def env(self):
        return dict(os.environ, HOME=self.home, LC_ALL="C.UTF-8")

    def local_inbox(self):
        return os.path.join(self.mail, "INBOX")

    def initial_sync(self):
        with open(self.log, "a") as log:
            subprocess.run(self.once_argv(), env=self.env(), stdout=log, stderr=log, check=True,
                           timeout=3600)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def cpu_seconds(self):
        with open(f"/proc/{self.process.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        # utime, stime, cutime, cstime (children: OfflineIMAP may fork helpers)
        return sum(int(x) for x in fields[11:15]) / tick

    def rss_mb(self):
        with open(f"/proc/{self.process.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0


class PimlinkDaemon(Contender):
    name = "pimlink"
    binary = None

    def write_config(self):
        with open(self.config(), "w") as f:
            f.write(tools.pimlink_mail_config("bench/live", self.state, self.dovecot.port,
                                              ACCOUNT, self.mail, "live"))

    def config(self):
        return os.path.join(self.dir, "config.toml")

    def once_argv(self):
        return [self.binary, "-q", "-c", self.config(), "sync"]

    def start(self):
        """Starts the daemon and returns once it wrote READY=1 on --ready-fd."""
        read, write = os.pipe()
        log = open(self.log, "a")
        self.process = subprocess.Popen(
            [self.binary, "-c", self.config(), "daemon", "--ready-fd", str(write)],
            env=self.env(), stdout=log, stderr=log, pass_fds=(write,))
        os.close(write)
        with os.fdopen(read, "rb") as ready:
            got = ready.read()
        if b"READY=1" not in got:
            raise RuntimeError(f"pimlink daemon exited before READY=1 (see {self.log})")


class OfflineImapDaemon(Contender):
    name = "offlineimap"

    def write_config(self):
        with open(os.path.join(self.dir, "offlineimaprc"), "w") as f:
            f.write(f"""# offlineimap config of pimlink's bench/live: autorefresh every
# {self.args.autorefresh} minutes, IDLE on INBOX (its documented continuous mode)
[general]
accounts = live
metadata = {self.state}
ui = basic

[Account live]
localrepository = local
remoterepository = remote
autorefresh = {self.args.autorefresh}
quick = 10

[Repository local]
type = Maildir
localfolders = {self.mail}
sep = /

[Repository remote]
type = IMAP
remotehost = {HOST}
remoteport = {self.dovecot.port}
remoteuser = {ACCOUNT}
remotepass = {PASSWORD}
ssl = no
starttls = no
idlefolders = ['INBOX']
keepalive = 60
holdconnectionopen = yes
""")

    def once_argv(self):
        return ["offlineimap", "-o", "-u", "quiet", "-c", os.path.join(self.dir, "offlineimaprc")]

    def start(self):
        log = open(self.log, "a")
        self.process = subprocess.Popen(
            ["offlineimap", "-u", "basic", "-c", os.path.join(self.dir, "offlineimaprc")],
            env=self.env(), stdout=log, stderr=log)
        # No readiness signal: the warm-up change below waits until it syncs.


# ---- the measurements ----

class Live:
    def __init__(self, args, work):
        self.args = args
        self.work = work
        self.rng = random.Random(args.seed)
        self.dovecot = None
        self.results = {}
        self.problems = []
        os.makedirs(os.path.join(work, "logs"))

    def say(self, text):
        print(text, flush=True)

    def server_inbox(self):
        return os.path.join(self.dovecot.mail_dir(ACCOUNT), "INBOX")

    def start_server(self):
        self.dovecot = Dovecot(os.path.join(self.work, "dovecot"), [ACCOUNT])
        self.dovecot.start()
        live = self.dovecot.mail_dir(ACCOUNT)
        stats = corpus.write_dovecot_maildir(live, self.args.messages, 10, self.args.seed, False)
        self.dovecot.chown_mail()
        self.dovecot.doveadm("force-resync", "-u", ACCOUNT, "*")
        mutate.enable_modseqs(self.dovecot.port, ACCOUNT)
        self.say(f"dovecot on {HOST}:{self.dovecot.port}, {stats.messages} messages")

    def imap(self):
        imap = imaplib.IMAP4(HOST, self.dovecot.port)
        imap.login(ACCOUNT, PASSWORD)
        return imap

    def new_message(self, tag, i):
        return corpus.extra_messages(1, self.args.seed + i, f"{tag}{i}")[0]

    # A change each way, and where to look for it.

    def server_change(self, tool, i, imap):
        """An APPEND (even i) or a \\Flagged set by STORE (odd i) on the server's INBOX."""
        count, flagged = inbox_state(tool.local_inbox())
        if i % 2 == 0:
            typ, _ = imap.append("INBOX", "", imaplib.Time2Internaldate(time.time()),
                                 self.new_message("s", i))
            want = (count + 1, flagged)
        else:
            imap.select("INBOX")
            typ, data = imap.uid("SEARCH", "UNFLAGGED")
            uids = data[0].split()
            uid = uids[self.rng.randrange(len(uids))].decode()
            typ, _ = imap.uid("STORE", uid, "+FLAGS.SILENT", "(\\Flagged)")
            imap.close()
            want = (count, flagged + 1)
        if typ != "OK":
            raise RuntimeError(f"server change {i}: {typ}")
        return tool.local_inbox(), want

    def local_change(self, tool, i):
        """A new file in INBOX/new (even i), or a reader setting F on a file in cur (odd i)."""
        inbox = tool.local_inbox()
        count, flagged = inbox_state(self.server_inbox())
        if i % 2 == 0:
            tmp = os.path.join(inbox, "tmp", f"{int(time.time())}.L{i}.pimbench-live")
            with open(tmp, "wb") as f:
                f.write(self.new_message("l", i))
            os.rename(tmp, os.path.join(inbox, "new", os.path.basename(tmp)))
            want = (count + 1, flagged)
        else:
            cur = os.path.join(inbox, "cur")
            names = sorted(n for n in os.listdir(cur) if "F" not in verify.flags_of(n))
            fsutil.toggle_flag(os.path.join(cur, names[self.rng.randrange(len(names))]), "F")
            want = (count, flagged + 1)
        return self.server_inbox(), want

    def propagate(self, tool, direction, changes, imap):
        latencies, missed = [], 0
        for i in range(changes):
            t0 = time.monotonic()
            if direction == "server->local":
                folder, want = self.server_change(tool, i, imap)
            else:
                folder, want = self.local_change(tool, i)
            arrived = wait_for(folder, want, t0 + 120)
            if arrived is None:
                missed += 1
                self.problems.append(f"{tool.name} {direction} change {i}: not there after 120 s")
            else:
                latencies.append(arrived - t0)
            time.sleep(self.rng.uniform(0.1, 0.4))
        return latencies, missed

    def warm_up(self, tool, imap):
        """One change each way, unmeasured: the daemon has started watching once it passes."""
        for direction in ("server->local", "local->server"):
            _, missed = self.propagate(tool, direction, 1, imap)
            if missed:
                raise RuntimeError(f"{tool.name}: the warm-up change did not arrive")

    def idle_cost(self, tool):
        cpu0, rss0 = tool.cpu_seconds(), tool.rss_mb()
        time.sleep(self.args.idle)
        cpu1, rss1 = tool.cpu_seconds(), tool.rss_mb()
        return (cpu1 - cpu0) / (self.args.idle / 60), rss0, rss1

    def server_batch(self, tool, start, n, imap):
        """`n` server changes at once: half APPENDs, half \\Flagged set on distinct messages."""
        count, flagged = inbox_state(tool.local_inbox())
        appends = (n + 1) // 2
        for i in range(appends):
            imap.append("INBOX", "", imaplib.Time2Internaldate(time.time()),
                        self.new_message("s", start + i))
        imap.select("INBOX")
        typ, data = imap.uid("SEARCH", "UNFLAGGED")
        uids = [u.decode() for u in data[0].split()]
        picked = self.rng.sample(uids, min(n - appends, len(uids)))
        if picked:
            imap.uid("STORE", ",".join(picked), "+FLAGS.SILENT", "(\\Flagged)")
        imap.close()
        return tool.local_inbox(), (count + appends, flagged + len(picked))

    def local_batch(self, tool, start, n):
        """`n` local changes at once: half new files, half F added to distinct files."""
        inbox = tool.local_inbox()
        count, flagged = inbox_state(self.server_inbox())
        news = (n + 1) // 2
        for i in range(news):
            tmp = os.path.join(inbox, "tmp", f"{int(time.time())}.L{start + i}.pimbench-live")
            with open(tmp, "wb") as f:
                f.write(self.new_message("l", start + i))
            os.rename(tmp, os.path.join(inbox, "new", os.path.basename(tmp)))
        cur = os.path.join(inbox, "cur")
        names = sorted(n_ for n_ in os.listdir(cur) if "F" not in verify.flags_of(n_))
        picked = self.rng.sample(names, min(n - news, len(names)))
        for name in picked:
            fsutil.toggle_flag(os.path.join(cur, name), "F")
        return self.server_inbox(), (count + news, flagged + len(picked))

    def soak(self, tool, imap):
        """`--soak` changes in batches of `--soak-batch`, the direction alternating by batch,
        each batch awaited on the other side; RSS sampled after each batch."""
        peak = first = tool.rss_mb()
        batch = max(1, self.args.soak_batch)
        done = 0
        while done < self.args.soak:
            n = min(batch, self.args.soak - done)
            start = 100000 + done
            if (done // batch) % 2 == 0:
                folder, want = self.server_batch(tool, start, n, imap)
            else:
                folder, want = self.local_batch(tool, start, n)
            # The soak measures memory, not latency: looking at a large folder every 5 ms
            # would make the harness the bottleneck.
            if wait_for(folder, want, time.monotonic() + 300, poll=0.1) is None:
                self.problems.append(f"{tool.name} soak batch at change {done}: not there "
                                     f"after 300 s (want {want}, have {inbox_state(folder)})")
                break
            done += n
            peak = max(peak, tool.rss_mb())
        return first, peak, tool.rss_mb()

    def verify(self, tool):
        server = verify.mail_state(self.dovecot.mail_dir(ACCOUNT))
        problem = verify.difference(server, verify.mail_state(tool.mail), "messages")
        return f"{tool.name}: {problem}" if problem else None

    def run_tool(self, cls):
        self.say(f"{cls.name}: initial sync")
        tool = cls(self.work, self.dovecot, self.args)
        tool.initial_sync()
        tool.start()
        imap = self.imap()
        try:
            self.warm_up(tool, imap)
            row = {}
            for direction in ("server->local", "local->server"):
                lat, missed = self.propagate(tool, direction, self.args.changes, imap)
                row[direction] = (lat, missed)
                self.say(f"  {direction}: {len(lat)} arrived, p50 {pct(lat, 50):.3f} s, "
                         f"p95 {pct(lat, 95):.3f} s, {missed} missed")
            if self.args.idle:
                row["idle"] = self.idle_cost(tool)
                self.say(f"  idle {self.args.idle} s: {row['idle'][0]:.3f} CPU s/min, "
                         f"RSS {row['idle'][1]:.1f} -> {row['idle'][2]:.1f} MB")
            if self.args.soak:
                row["soak"] = self.soak(tool, imap)
                self.say(f"  soak {self.args.soak} changes: RSS {row['soak'][0]:.1f} MB at "
                         f"start, peak {row['soak'][1]:.1f}, end {row['soak'][2]:.1f}")
        finally:
            imap.logout()
            tool.stop()
        problem = self.verify(tool)
        if problem:
            self.problems.append(problem)
        row["verified"] = problem is None
        self.results[cls.name] = row
        # The next contender starts from the server as this one left it: fine, since each
        # measures its own changes against its own fresh local copy.

    def table(self):
        lines = ["| tool | server->local p50 / p95 / max | local->server p50 / p95 / max "
                 "| missed | idle CPU s/min | RSS idle | soak RSS start / peak / end | verified |",
                 "|---|---:|---:|---:|---:|---:|---:|---|"]
        for name, row in self.results.items():
            cells = []
            missed = 0
            for direction in ("server->local", "local->server"):
                lat, m = row[direction]
                missed += m
                cells.append(f"{pct(lat, 50):.3f} / {pct(lat, 95):.3f} / "
                             f"{max(lat, default=0):.3f} s")
            idle = row.get("idle")
            soak = row.get("soak")
            lines.append(f"| {name} | {cells[0]} | {cells[1]} | {missed} | "
                         + (f"{idle[0]:.3f} | {idle[2]:.1f} MB" if idle else "- | -") + " | "
                         + (f"{soak[0]:.1f} / {soak[1]:.1f} / {soak[2]:.1f} MB" if soak else "-")
                         + f" | {'yes' if row['verified'] else 'NO'} |")
        if "pimlink" in self.results and "offlineimap" in self.results:
            for direction in ("server->local", "local->server"):
                p = pct(self.results["pimlink"][direction][0], 95)
                o = pct(self.results["offlineimap"][direction][0], 95)
                r = report.ratio(p, o)
                lines.append(f"\np95 {direction}: pimlink/offlineimap = "
                             + (f"{r:.2f}" if r is not None else "n/a"))
        return lines


def pct(values, q):
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def find_pimlink(args):
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for candidate in (args.pimlink, os.environ.get("PIMLINK"),
                      os.path.join(repo, "target", "release", "pimlink")):
        if candidate and os.access(candidate, os.X_OK):
            return os.path.abspath(candidate)
    return None


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(130))
    deps.ensure(install=not args.no_install)
    PimlinkDaemon.binary = find_pimlink(args)
    work = tempfile.mkdtemp(prefix="pimbench-live-")
    os.chmod(work, 0o755)
    live = Live(args, work)
    try:
        live.start_server()
        contenders = {"pimlink": PimlinkDaemon, "offlineimap": OfflineImapDaemon}
        for name in args.tools:
            if name == "pimlink" and not PimlinkDaemon.binary:
                live.problems.append("pimlink: no binary (--pimlink or target/release)")
                continue
            live.run_tool(contenders[name])
        lines = [f"bench/live of {time.strftime('%Y-%m-%d %H:%M')}: {args.messages} messages, "
                 f"{args.changes} changes each way, idle {args.idle} s, soak {args.soak}, "
                 f"OfflineIMAP autorefresh {args.autorefresh} min + idlefolders INBOX", ""]
        lines += deps.machine(PimlinkDaemon.binary) + [""] + live.table()
        if live.problems:
            lines += ["", "Problems:"] + [f"- {p}" for p in live.problems]
        print("\n" + "\n".join(lines))
        if args.markdown:
            with open(args.markdown, "w") as f:
                f.write("\n".join(lines) + "\n")
    finally:
        if live.dovecot:
            live.dovecot.stop()
        if live.problems or args.keep:
            print(f"bench/live: logs and data kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 1 if live.problems else 0
