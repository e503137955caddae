"""Installs the Debian packages the benchmark needs, and reports the versions that ran."""

import os
import platform
import shutil
import subprocess

# Package -> why. All of them are needed only for the scenarios that use them, but installing
# them together keeps "one command on a fresh machine" true.
PACKAGES = {
    "dovecot-imapd": "the IMAP server",
    "isync": "mbsync",
    "offlineimap3": "offlineimap",
    "radicale": "the CalDAV/CardDAV server",
    "xandikos": "the second CalDAV/CardDAV server (git-backed, stores its sync tokens)",
    "vdirsyncer": "the calendar/contact peer",
    "time": "GNU time, which measures peak RSS",
    # imapsync (bench/replicate, bench/migrate) runs from its source with Debian's Perl modules.
    "libmail-imapclient-perl": "imapsync's IMAP client",
    "libio-socket-inet6-perl": "loaded by imapsync at start",
}


def missing():
    out = []
    for package in PACKAGES:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package],
                           capture_output=True, text=True)
        if "install ok installed" not in r.stdout:
            out.append(package)
    return out


def ensure(install=True):
    if not shutil.which("dpkg-query"):
        raise SystemExit("bench: not a Debian system; install yourself: " + " ".join(PACKAGES))
    todo = missing()
    if not todo:
        return
    if not install:
        raise SystemExit("bench: missing Debian packages (run without --no-install, or "
                         f"apt-get install {' '.join(todo)})")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    print(f"bench: installing {' '.join(todo)}", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(sudo + ["apt-get", "update", "-q"], check=True, env=env)
    subprocess.run(sudo + ["apt-get", "install", "-y", "-q", *todo], check=True, env=env,
                   stdin=subprocess.DEVNULL)


def _version(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unavailable ({e})"
    text = (r.stdout or r.stderr).strip().splitlines()
    return text[0] if text else "?"


def machine(pimlink=None):
    """A description of the machine and the tool versions, as Markdown list lines."""
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    lines = [
        f"- CPU: {cpu}, nproc {os.cpu_count()}, RAM {mem}, kernel {platform.release()}",
        f"- Dovecot {_version(['dovecot', '--version'])}, Radicale {_version(['radicale', '--version'])}, "
        f"Xandikos {_version(['xandikos', '--version'])}",
        f"- {_version(['mbsync', '--version'])}, OfflineIMAP {_version(['offlineimap', '--version'])}, "
        f"{_version(['vdirsyncer', '--version'])}, Python {platform.python_version()}",
    ]
    if pimlink:
        lines.append(f"- pimlink: {pimlink} ({_version([pimlink, '--version'])})")
    return lines
