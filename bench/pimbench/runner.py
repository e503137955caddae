"""The benchmark: set up servers and corpus, run every tool over every scenario, print the table.

Each measured run starts from a reset state: the server's Maildir is link-copied back from the
pristine copy taken after generation, and the tool's directory is either emptied (initial
syncs) or link-copied back from its baseline (the state right after its own initial sync). Tools
take turns within each repeat, in a rotating order, so that slow drifts of the shared machine hit
all of them alike.
"""

import argparse
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from . import corpus, deps, fsutil, latency, measure, mutate, report, tools, verify
from .servers import Dovecot, Radicale, Xandikos

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@dataclasses.dataclass
class Size:
    messages: int
    folders: int
    upload: int
    large_messages: int
    large_folders: int
    calendars: int
    events: int
    contacts: int
    repeat: int
    timeout: int  # seconds per measured run
    huge_mib: tuple = ()  # the very large messages of the huge account, in MiB


SIZES = {
    "quick": Size(messages=500, folders=10, upload=100, large_messages=10000, large_folders=50,
                  calendars=2, events=100, contacts=200, repeat=3, timeout=300,
                  huge_mib=(8, 24)),
    "full": Size(messages=20000, folders=10, upload=2000, large_messages=200000,
                 large_folders=50, calendars=5, events=1000, contacts=2000, repeat=5,
                 timeout=3600, huge_mib=(40, 100, 200)),
}

# scenario -> (tool classes, account). The large account is used by its scenario only.
MAIL = "bench"
LARGE = "large"
HUGE = "huge"
HUGE_SMALL = 50  # ordinary messages beside the huge ones
# The DAV scenarios on Xandikos (issue 17) use the same corpus under this account label, so
# that each tool's directory and baseline there are apart from its Radicale ones.
XANDIKOS = "xandikos"
SCENARIOS = {
    "mail-initial": (tools.MAIL_TOOLS + tools.LIMITS, MAIL),
    "mail-nochange": (tools.MAIL_TOOLS, MAIL),
    # The no-change run right after the initial download, and right after a run that synced
    # the incremental scenario's changes (issue 17: no-change cheap on every run).
    "mail-nochange-first": (tools.MAIL_TOOLS, MAIL),
    "mail-nochange-after": (tools.MAIL_TOOLS, MAIL),
    "mail-incremental": (tools.MAIL_TOOLS, MAIL),
    "mail-upload": (tools.MAIL_TOOLS, MAIL),
    "mail-nochange-large": (tools.MAIL_TOOLS, LARGE),
    "mail-initial-huge": (tools.MAIL_TOOLS, HUGE),
    "dav-initial": (tools.DAV_TOOLS, MAIL),
    "dav-nochange": (tools.DAV_TOOLS, MAIL),
    # The same two on Xandikos, which stores its sync tokens (issue 17).
    "dav-initial-xandikos": (tools.DAV_TOOLS_XANDIKOS, XANDIKOS),
    "dav-nochange-xandikos": (tools.DAV_TOOLS_XANDIKOS, XANDIKOS),
    # pimlink's first sync of vdirsyncer's tree, to hold against its own dav-nochange (issue 16).
    "dav-adopt": ([tools.PimlinkAdoptDav], MAIL),
    # pimlink's first sync of mbsync's tree, to hold against its own mail-nochange (issue 16).
    "mail-adopt": ([tools.PimlinkAdoptMail], MAIL),
}
# Scenarios that start from an empty local side.
INITIAL = ("mail-initial", "mail-initial-huge", "dav-initial", "dav-initial-xandikos")
DEFAULT = {
    "quick": ["mail-initial", "mail-nochange", "mail-nochange-first", "mail-nochange-after",
              "mail-incremental", "mail-upload", "dav-initial", "dav-nochange", "dav-adopt",
              "mail-adopt"],
    "full": list(SCENARIOS),
}


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="bench/run",
        description="Benchmark pimlink against mbsync, OfflineIMAP and vdirsyncer on private "
                    "loopback servers (see bench/README.md).")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", dest="size", action="store_const", const="quick",
                      help="small corpus, about a minute (the default)")
    size.add_argument("--full", dest="size", action="store_const", const="full",
                      help="20,000 messages (~700 MB) + the 200,000-message account")
    p.add_argument("--scenarios", help="comma-separated subset of: " + ", ".join(SCENARIOS))
    p.add_argument("--tools", help="comma-separated subset of tools (default: all), e.g. "
                                   "mbsync,raw-fetch")
    p.add_argument("--repeat", type=int, help="measured runs per tool and scenario")
    p.add_argument("--messages", type=int, help="override the number of messages")
    p.add_argument("--seed", type=int, default=20240501, help="corpus seed (default %(default)s)")
    p.add_argument("--pimlink", help="pimlink binary (default: $PIMLINK, PATH, "
                                     "target/release/pimlink)")
    p.add_argument("--build-pimlink", action="store_true",
                   help="cargo build --release -p pimlink first")
    p.add_argument("--no-install", action="store_true", help="do not apt-get missing packages")
    p.add_argument("--workdir", help="parent of the temporary directory (default: $TMPDIR)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument("--markdown", help="also write the table and machine description here")
    p.add_argument("--latency", type=float, metavar="MS",
                   help="put every tool's IMAP and DAV traffic through a loopback proxy that adds "
                        "this round trip (half each way); set-up and checks go direct")
    args = p.parse_args(argv)
    args.size = args.size or "quick"
    args.scenarios = (args.scenarios.split(",") if args.scenarios else DEFAULT[args.size])
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        p.error(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    args.tools = set(args.tools.split(",")) if args.tools else None
    return args


def find_pimlink(args):
    if args.build_pimlink:
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
        subprocess.run(["cargo", "build", "--release", "-p", "pimlink"], cwd=REPO, check=True)
        return os.path.join(target, "release", "pimlink")
    for candidate in (args.pimlink, os.environ.get("PIMLINK"), shutil.which("pimlink"),
                      os.path.join(REPO, "target", "release", "pimlink")):
        if candidate and os.access(candidate, os.X_OK):
            return os.path.abspath(candidate)
    return None


class Bench:
    def __init__(self, args, work):
        self.args = args
        self.size = dataclasses.replace(SIZES[args.size])
        if args.messages:
            self.size.messages = args.messages
        if args.repeat:
            self.size.repeat = args.repeat
        self.work = work
        self.dovecot = None
        self.radicale = None
        self.xandikos = None
        # server label -> the corpus as generated ({collection: Counter of normalised items}):
        # what both sides must hold after every DAV run.
        self.dav_expected = {}
        self.pristine = {}  # account -> pristine server Maildir
        self.base_count = {}  # account -> messages on the server after generation
        self.dav_items = (0, 0)
        self.results = {}
        self.skipped = {}
        self.baseline_failed = set()
        self.proxies = {}  # id(server) -> latency.Proxy in front of it (--latency)
        os.makedirs(os.path.join(work, "logs"))

    def say(self, text):
        print(text, flush=True)

    # ---- servers and corpus ----

    def start_mail(self, accounts):
        # Assigned before start() so that the runner's finally stops it whatever happens.
        self.dovecot = Dovecot(os.path.join(self.work, "dovecot"), accounts)
        self.dovecot.start()
        self.say(f"dovecot on 127.0.0.1:{self.dovecot.port}")
        for account in accounts:
            live = self.dovecot.mail_dir(account)
            if account == HUGE:
                t = time.perf_counter()
                stats = corpus.write_huge_maildir(live, self.size.huge_mib, HUGE_SMALL,
                                                  self.args.seed + len(account))
                self.add_corpus(account, stats, 1, time.perf_counter() - t)
                continue
            if account == LARGE:
                messages, folders = self.size.large_messages, self.size.large_folders
                attachments = False  # only the no-change resync uses it: size does not matter
            else:
                messages, folders, attachments = self.size.messages, self.size.folders, True
            t = time.perf_counter()
            stats = corpus.write_dovecot_maildir(live, messages, folders,
                                                 self.args.seed + len(account), attachments)
            self.add_corpus(account, stats, folders, time.perf_counter() - t)

    def add_corpus(self, account, stats, folders, t_write):
        """Indexes the corpus just written for `account` and keeps its pristine copy."""
        live = self.dovecot.mail_dir(account)
        self.dovecot.chown_mail()
        t = time.perf_counter()
        self.dovecot.doveadm("force-resync", "-u", account, "*")
        t_index = time.perf_counter() - t
        count = mutate.server_count(self.dovecot, account)
        if count != stats.messages:
            raise RuntimeError(f"{account}: Dovecot sees {count} messages, "
                               f"{stats.messages} were written")
        self.base_count[account] = count
        mutate.enable_modseqs(self.dovecot.port, account)
        self.pristine[account] = os.path.join(self.work, "pristine", account)
        fsutil.link_tree(live, self.pristine[account])
        self.say(f"corpus {account}: {stats.messages} messages, {stats.bytes / 1e6:.0f} MB "
                 f"in {folders} folders, {stats.attachments} with attachments, "
                 f"{100 * stats.seen / max(1, stats.messages):.0f}% seen, "
                 f"{stats.flagged} flagged; written in {t_write:.1f} s, "
                 f"indexed in {t_index:.1f} s")

    def start_dav(self):
        self.radicale = Radicale(os.path.join(self.work, "radicale"))
        self.radicale.start()
        s = self.size
        corpus.write_radicale_collections(self.radicale.user_root(), s.calendars, s.events,
                                          s.contacts, self.args.seed)
        self.dav_items = (s.calendars * s.events, s.contacts)
        self.dav_expected[MAIL] = verify.dav_state(self.radicale.user_root())
        self.say(f"radicale on 127.0.0.1:{self.radicale.port}: {s.calendars} calendars x "
                 f"{s.events} events, {s.contacts} contacts")

    def as_tools_see(self, server):
        """`server`, or with --latency the same server behind its latency proxy."""
        if not self.args.latency:
            return server
        proxy = self.proxies.get(id(server))
        if proxy is None:
            log = os.path.join(self.work, "logs", f"latency-{type(server).__name__.lower()}.log")
            proxy = latency.Proxy(server.port, self.args.latency, log)
            self.proxies[id(server)] = proxy
            proxy.start()
            self.say(f"latency proxy on 127.0.0.1:{proxy.port}: {self.args.latency:g} ms round "
                     f"trip to port {server.port}")
        return latency.Behind(server, proxy)

    def start_xandikos(self):
        """The same corpus (same seed) in Xandikos: calendars cal1..N, contacts in its default
        address book."""
        self.xandikos = Xandikos(os.path.join(self.work, "xandikos"))
        self.xandikos.start()
        s = self.size
        source = os.path.join(self.work, "xandikos-corpus")
        corpus.write_radicale_collections(source, s.calendars, s.events, s.contacts,
                                          self.args.seed)
        self.dav_items = (s.calendars * s.events, s.contacts)
        layout = {f"calendars/cal{c}": os.path.join(source, f"cal{c}")
                  for c in range(1, s.calendars + 1)}
        layout["contacts/addressbook"] = os.path.join(source, "contacts")
        self.xandikos.populate(layout)
        fsutil.remove(source)
        self.dav_expected[XANDIKOS] = verify.dav_state(self.xandikos.user_root())
        self.say(f"xandikos on 127.0.0.1:{self.xandikos.port}: {s.calendars} calendars x "
                 f"{s.events} events, {s.contacts} contacts")

    def dav_server(self, account):
        return self.xandikos if account == XANDIKOS else self.radicale

    def reset_server(self, account):
        live = self.dovecot.mail_dir(account)
        fsutil.remove(live)
        fsutil.link_tree(self.pristine[account], live)

    # ---- tools ----

    def make_tools(self, scenario):
        classes, account = SCENARIOS[scenario]
        server = self.as_tools_see(
            self.dav_server(account) if scenario.startswith("dav") else self.dovecot)
        out = []
        for cls in classes:
            if self.args.tools and cls.name not in self.args.tools:
                continue
            tool = cls(self.work, server, account)
            reason = tool.available()
            if reason is None and (account, tool.kind, tool.name) in self.baseline_failed:
                reason = "baseline sync failed (see log)"
            if reason:
                self.skipped[(scenario, tool.name)] = reason
            out.append(tool)
        return out

    def baseline_dir(self, tool, which="settled"):
        """`settled`: after the initial sync and one resync; `initial`: right after the
        initial sync (for mail-nochange-first)."""
        name = tool.name if which == "settled" else f"{tool.name}.{which}"
        return os.path.join(self.work, "baseline", tool.account, tool.kind, name)

    def snapshot(self, tool):
        fsutil.link_tree(tool.dir, self.baseline_dir(tool, "initial"))
        self.settle(tool)
        fsutil.link_tree(tool.dir, self.baseline_dir(tool))

    def settle(self, tool):
        """One untimed resync after the initial sync, more than a second later, so that the
        baseline is a tool's state after an ordinary resync: most real no-change runs follow
        another resync, not the initial download (pimlink skips a folder unchanged since its
        last settled run, which the initial download is not). Every tool gets it. For DAV the
        wait is 4 s: the initial sync's first REPORT makes Radicale create its cache directory
        inside each collection, which moves the collection's last-modified, and pimlink trusts
        a last-modified only once it is 3 s old (skip_unchanged = "last-modified")."""
        time.sleep(4.0 if tool.kind == "dav" else 1.2)
        sample = measure.run(tool.argv(), tool.log, env=tool.env(), timeout=self.size.timeout * 4)
        if sample.status != 0:
            self.say(f"  settling resync of {tool.name} failed (exit {sample.status}); "
                     f"the baseline is its initial sync; log {tool.log}")

    def ensure_baseline(self, tool):
        if os.path.isdir(self.baseline_dir(tool)):
            return True
        self.say(f"  baseline: initial sync of {tool.account} with {tool.name} (untimed)")
        if tool.kind == "dav":
            tool.clean()
        else:
            self.reset_server(tool.account)
            tool.clean()
        sample = measure.run(tool.argv(), tool.log, env=tool.env(), timeout=self.size.timeout * 4)
        problem = self.check(tool, "initial", sample)
        if problem:
            self.say(f"  baseline of {tool.name} failed: {problem}; log {tool.log}")
            self.baseline_failed.add((tool.account, tool.kind, tool.name))
            return False
        self.snapshot(tool)
        return True

    def restore(self, tool, which="settled"):
        fsutil.remove(tool.dir)
        fsutil.link_tree(self.baseline_dir(tool, which), tool.dir)

    # ---- one run ----

    def setup(self, scenario, tool, repeat):
        seed = self.args.seed + repeat
        if scenario.startswith("dav"):
            if scenario in INITIAL:
                tool.clean()
            elif scenario == "dav-adopt":
                source = tools.Vdirsyncer(self.work, self.as_tools_see(self.radicale),
                                           tool.account)
                if not self.ensure_baseline(source):
                    raise RuntimeError("vdirsyncer's baseline failed: nothing to adopt")
                tool.adopt_from(self.baseline_dir(source))
            else:
                self.restore(tool)
            return
        if scenario == "mail-adopt":
            source = tools.Mbsync(self.work, self.as_tools_see(self.dovecot), tool.account)
            if not self.ensure_baseline(source):
                raise RuntimeError("mbsync's baseline failed: nothing to adopt")
            self.reset_server(tool.account)
            tool.adopt_from(self.baseline_dir(source))
            return
        self.reset_server(tool.account)
        if scenario in INITIAL:
            tool.clean()
            return
        self.restore(tool, "initial" if scenario == "mail-nochange-first" else "settled")
        if scenario in ("mail-incremental", "mail-nochange-after"):
            mutate.server_changes(self.dovecot.port, tool.account, seed)
            mutate.local_flag_changes(tool.mail, seed)
        if scenario == "mail-nochange-after" and tool.stateful:
            # The run that syncs those changes, untimed; the measured run is the one after it.
            time.sleep(1.0 - time.time() % 1.0 + 0.05)
            sample = measure.run(tool.argv(), tool.log, env=tool.env(),
                                 timeout=self.size.timeout)
            if sample.status != 0:
                raise RuntimeError(f"{tool.name}: the run syncing the changes failed "
                                   f"(exit {sample.status}); log {tool.log}")
        elif scenario == "mail-upload":
            mutate.local_new_messages(tool.mail, seed, self.size.upload)
        if tool.stateful:
            # Leave the second in which set-up touched directories: mbsync and Dovecot treat a
            # directory modified in the current second specially (mbsync waits for the next
            # one), and a real sync never starts right after the changes it picks up.
            time.sleep(1.0 - time.time() % 1.0 + 0.05)

    def expected_server(self, scenario, account):
        base = self.base_count[account]
        if scenario in ("mail-incremental", "mail-nochange-after"):
            return base + 50 - 20
        if scenario == "mail-upload":
            return base + self.size.upload
        return base

    def check(self, tool, scenario, sample):
        """None if the run did what it should, else what was wrong (the run then counts as
        failed: a fast wrong answer must not look like a win)."""
        if sample.timed_out:
            return f"timed out after {self.size.timeout} s"
        if sample.status != 0:
            return f"exit status {sample.status}"
        if tool.kind == "dav":
            ics = fsutil.count_files(tool.mail, ".ics")
            vcf = fsutil.count_files(tool.mail, ".vcf")
            if (ics, vcf) != self.dav_items:
                return f"local has {ics} events/{vcf} contacts, expected {self.dav_items}"
            # Both sides against the corpus as generated, not only against each other: a
            # tool that damaged the server and copied the damage would agree with it.
            expected = self.dav_expected[tool.account]
            server = verify.dav_state(self.dav_server(tool.account).user_root())
            return (verify.dav_difference(expected, verify.dav_state(tool.mail))
                    or verify.dav_difference(expected, server, "the server"))
        if tool.name == "raw-fetch":
            return None  # rawfetch --expect checks the count itself
        expected = self.expected_server(scenario, tool.account)
        if tool.name == "cp-r+sync":
            got = fsutil.count_messages(tool.mail)
            return None if got == expected else f"copied {got} of {expected} messages"
        server = mutate.server_count(self.dovecot, tool.account)
        local = fsutil.count_messages(tool.mail)
        if server != expected or local != expected:
            return f"server has {server}, local {local} messages, expected {expected}"
        return verify.difference(verify.mail_state(self.dovecot.mail_dir(tool.account)),
                                 verify.mail_state(tool.mail), "messages (folder, Message-ID, "
                                 "flags)")

    def run_one(self, scenario, tool, repeat):
        initial = scenario in INITIAL
        if tool.stateful and not initial and not self.ensure_baseline(tool):
            self.skipped[(scenario, tool.name)] = "baseline sync failed (see log)"
            return
        self.setup(scenario, tool, repeat)
        argv = tool.argv()
        if tool.name == "raw-fetch":
            argv = argv + ["--expect", str(self.expected_server(scenario, tool.account))]
        sample = measure.run(argv, tool.log, env=tool.env(), timeout=self.size.timeout)
        problem = self.check(tool, scenario, sample)
        if problem:
            sample.status = sample.status or 99
            with open(tool.log, "a") as log:
                log.write(f"# CHECK FAILED ({scenario} #{repeat + 1}): {problem}\n")
        self.results.setdefault((scenario, tool.name), []).append(sample)
        self.say(f"  {scenario:20} {tool.name:12} #{repeat + 1}  {sample.wall:8.3f} s  "
                 f"{sample.rss_kb / 1024:7.1f} MB  " + (f"FAILED: {problem}" if problem else "ok"))
        if initial and tool.stateful and not problem and \
                not os.path.isdir(self.baseline_dir(tool)):
            self.snapshot(tool)

    def run(self):
        mail_accounts = []
        for scenario in self.args.scenarios:
            account = SCENARIOS[scenario][1]
            if scenario.startswith("mail") and account not in mail_accounts:
                mail_accounts.append(account)
        if mail_accounts:
            self.start_mail(mail_accounts)
        if any(s.startswith("dav") and SCENARIOS[s][1] == MAIL for s in self.args.scenarios):
            self.start_dav()
        if any(SCENARIOS[s][1] == XANDIKOS for s in self.args.scenarios):
            self.start_xandikos()
        order = []
        for scenario in self.args.scenarios:
            tool_list = self.make_tools(scenario)
            order.append((scenario, [t.name for t in tool_list]))
            runnable = [t for t in tool_list if (scenario, t.name) not in self.skipped]
            self.say(f"{scenario}: " + ", ".join(t.name for t in runnable)
                     + "".join(f"; {t.name} skipped: {self.skipped[(scenario, t.name)]}"
                               for t in tool_list if (scenario, t.name) in self.skipped))
            for r in range(self.size.repeat):
                k = r % max(1, len(runnable))
                for tool in runnable[k:] + runnable[:k]:
                    if (scenario, tool.name) in self.skipped:
                        continue
                    self.run_one(scenario, tool, r)
        return order


def describe(bench, args):
    s = bench.size
    parts = [f"size {args.size}: {s.messages} messages in {s.folders} folders"]
    if "mail-nochange-large" in args.scenarios:
        parts.append(f"large account {s.large_messages} messages in {s.large_folders} folders")
    if "mail-initial-huge" in args.scenarios:
        sizes = ", ".join(f"{m}" for m in s.huge_mib)
        parts.append(f"huge account: messages of {sizes} MiB among {HUGE_SMALL} small ones")
    if any(x.startswith("dav") for x in args.scenarios):
        parts.append(f"{s.calendars} calendars x {s.events} events + {s.contacts} contacts")
    parts.append(f"upload {s.upload}, {s.repeat} repeats, seed {args.seed}")
    if args.latency:
        parts.append(f"tools' traffic through a {args.latency:g} ms round-trip proxy")
    return "; ".join(parts)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # SIGTERM (and SIGHUP) unwind like Ctrl-C, so that the finally below stops the servers.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(130))
    deps.ensure(install=not args.no_install)
    tools.Pimlink.binary = find_pimlink(args)
    if tools.Pimlink.binary and "/debug/" in tools.Pimlink.binary:
        print(f"bench: warning: {tools.Pimlink.binary} looks like a debug build; its numbers "
              "would not be representative (use --build-pimlink or a release binary)")
    work = tempfile.mkdtemp(prefix="pimbench-", dir=args.workdir)
    os.chmod(work, 0o755)  # Dovecot's services (nobody, dovecot) must traverse it
    bench = Bench(args, work)
    failed = False
    try:
        started = time.perf_counter()
        order = bench.run()
        failed = any(not s.ok for v in bench.results.values() for s in v)
        lines = [f"Run of {time.strftime('%Y-%m-%d %H:%M')} ({describe(bench, args)}), "
                 f"took {time.perf_counter() - started:.0f} s.", ""]
        lines += deps.machine(tools.Pimlink.binary) + [""]
        lines += report.table(bench.results, bench.skipped, order)
        print("\n" + "\n".join(lines))
        if args.markdown:
            with open(args.markdown, "w") as f:
                f.write("\n".join(lines) + "\n")
        with open(os.path.join(work, "results.json"), "w") as f:
            json.dump({f"{k[0]} {k[1]}": [dataclasses.asdict(s) for s in v]
                       for k, v in bench.results.items()}, f, indent=1)
    finally:
        for server in [*bench.proxies.values(), bench.dovecot, bench.radicale, bench.xandikos]:
            if server:
                server.stop()
        if failed or args.keep:
            print(f"bench: logs and data kept in {work} (logs/ has every tool's output)")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0
