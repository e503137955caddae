"""bench/migrate: many accounts migrated Dovecot -> Dovecot (issue 15): `pimlink migrate
--jobs 4` against imapsync run 4 at a time (`xargs -P 4`), then pimlink's runs with nothing
new (`--reruns`, 3 by default), each with its time as a fraction of the first run's.

Each tool migrates into its own destination accounts (`<tool>-uNN`), so runs never see each
other's messages. After each run every destination account is checked in full against its
source (verify.mail_state: folder, Message-ID and flags as multisets). Peak RSS is the largest
process (GNU time reports the maximum over the tree it waited for), so for imapsync it is one
of its four Perl processes, for pimlink the one process running all jobs. The corpus has no
big attachments (`--attachments` adds them) so that 20 x 2,000 messages fit on a small disk.
"""

import argparse
import os
import shutil
import sys
import time

from . import corpus, deps, measure, verify
from .servers import HOST, PASSWORD, Dovecot, finish, scratch

TOOLS = ("pimlink", "imapsync")


def accounts(n):
    return [f"u{i:02d}" for i in range(n)]


def check(source, destination, pairs):
    """None if every destination account equals its source, else the first difference."""
    for src, dst in pairs:
        wrong = verify.difference(verify.mail_state(source.mail_dir(src)),
                                  verify.mail_state(destination.mail_dir(dst)), f"{src}->{dst}")
        if wrong:
            return wrong
    return None


def pimlink_run(args, work, source, destination, users, log):
    d = os.path.join(work, "pimlink")
    os.makedirs(d, exist_ok=True)
    conf = os.path.join(d, "config.toml")
    with open(conf, "w") as f:
        f.write(f"""[general]
state_dir = "{d}/state"

[storage.old]
type = "imap"
host = "{HOST}"
port = {source.port}
tls = "none"

[storage.new]
type = "imap"
host = "{HOST}"
port = {destination.port}
tls = "none"

[migration.bench]
source = "old"
destination = "new"
""")
    accounts_file = os.path.join(d, "accounts.txt")
    with open(accounts_file, "w") as f:
        for u in users:
            f.write(f"{u};{PASSWORD};pimlink-{u};{PASSWORD}\n")
    argv = [args.pimlink, "-q", "-c", conf, "migrate", "bench", "--accounts", accounts_file,
            "--jobs", str(args.jobs), "--report", os.path.join(d, "report.csv")]
    return measure.run(argv, log, timeout=args.timeout)


def imapsync_run(args, work, source, destination, users, log):
    lines = "".join(f"{u} imapsync-{u}\n" for u in users)
    one = (f"perl {args.imapsync} --host1 {HOST} --port1 {source.port} --user1 $0 "
           f"--password1 {PASSWORD} --nossl1 --notls1 --host2 {HOST} "
           f"--port2 {destination.port} --user2 $1 --password2 {PASSWORD} --nossl2 --notls2 "
           f"--nolog --noreleasecheck --tmpdir {work}/imapsync-tmp")
    os.makedirs(os.path.join(work, "imapsync-tmp"), exist_ok=True)
    argv = ["sh", "-c", f"xargs -P {args.jobs} -L 1 sh -c '{one}'"]
    return measure.run(argv, log, timeout=args.timeout, stdin_data=lines.encode())


def main(argv=None):
    p = argparse.ArgumentParser(prog="bench/migrate", description=__doc__.split("\n")[0])
    p.add_argument("--accounts", type=int, default=20)
    p.add_argument("--messages", type=int, default=2000, help="per account")
    p.add_argument("--folders", type=int, default=6)
    p.add_argument("--attachments", action="store_true")
    p.add_argument("--jobs", type=int, default=4)
    p.add_argument("--reruns", type=int, default=3,
                   help="pimlink runs with nothing new after its first (take their median)")
    p.add_argument("--tools", default=",".join(TOOLS))
    p.add_argument("--pimlink", default=os.path.join(
        os.path.dirname(__file__), "..", "..", "target", "release", "pimlink"))
    p.add_argument("--imapsync", default=shutil.which("imapsync") or "imapsync")
    p.add_argument("--workdir", default=None)
    p.add_argument("--keep", action="store_true")
    p.add_argument("--timeout", type=int, default=7200)
    args = p.parse_args(argv)
    deps.ensure()
    tools = [t for t in args.tools.split(",") if t]
    users = accounts(args.accounts)
    work = scratch("pimbench-migr-", args.workdir)
    source = Dovecot(os.path.join(work, "source"), users)
    destination = Dovecot(os.path.join(work, "destination"),
                          [f"{t}-{u}" for t in tools for u in users])
    failed = False
    try:
        source.start()
        destination.start()
        t0 = time.monotonic()
        total = 0
        for i, u in enumerate(users):
            stats = corpus.write_dovecot_maildir(source.mail_dir(u), args.messages, args.folders,
                                                 seed=1000 + i, attachments=args.attachments,
                                                 tag=u)
            total += stats.bytes
        source.chown_mail()
        for u in users:
            source.doveadm("force-resync", "-u", u, "*")
        print(f"corpus: {len(users)} accounts x {args.messages} messages, {total / 1e6:.0f} MB "
              f"({time.monotonic() - t0:.1f} s)", flush=True)
        for tool in tools:
            log = os.path.join(work, "logs", f"{tool}.log")
            os.makedirs(os.path.dirname(log), exist_ok=True)
            runs = ["first"] + (["again"] * args.reruns if tool == "pimlink" else [])
            first = None
            for label in runs:
                run = pimlink_run if tool == "pimlink" else imapsync_run
                sample = run(args, work, source, destination, users, log)
                pairs = [(u, f"{tool}-{u}") for u in users]
                wrong = check(source, destination, pairs) if sample.ok else "exit status"
                ok = sample.ok and wrong is None
                failed |= not ok
                mb_s = total / 1e6 / sample.wall if sample.wall else 0
                first = first or sample.wall
                ratio = f"{sample.wall / first:6.3f}x first" if first else ""
                print(f"{tool:9} {label:6} {sample.wall:8.2f} s  {mb_s:6.2f} MB/s  "
                      f"{sample.rss_kb / 1024:7.1f} MB  {ratio}  "
                      f"{'ok' if ok else 'FAILED: ' + str(wrong)[:300] + ' (log ' + log + ')'}",
                      flush=True)
    except BaseException:
        failed = True
        raise
    finally:
        finish(work, [source, destination], failed or args.keep)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
