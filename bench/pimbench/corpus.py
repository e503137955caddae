"""Deterministic test data: mail (written straight into a Dovecot Maildir), calendars and contacts.

Everything is derived from one seed with `random.Random`, whose sequence Python keeps stable
across versions, so two runs with the same seed and size write byte-identical files. To stay fast
at 700 MB, message bodies are slices of two pools generated once (text lines and base64 lines)
instead of being generated word by word.
"""

import base64
import dataclasses
import math
import os
import random

# Log-normal message sizes: the median is exp(MU) = 4 KiB; sigma 0.9 gives a long tail (about 1 %
# above 32 KiB) without the multi-megabyte attachments, which are drawn separately.
SIZE_MU = math.log(4096)
SIZE_SIGMA = 0.9
TEXT_CAP = 256 * 1024
# Share of messages with a large attachment and its size range (log-uniform). With these values
# 20,000 messages come to about 700 MB, as the issue asks.
ATTACH_SHARE = 0.016
ATTACH_MIN = 1 << 20
ATTACH_MAX = 3 << 20
SEEN_SHARE = 0.65
FLAGGED_SHARE = 0.04
ANSWERED_SHARE = 0.08
# Fixed epoch (2023-01-01) so that dates do not depend on when the benchmark runs.
EPOCH = 1672531200
SPAN = 3 * 365 * 86400

WORDS = (
    "the of and to in is that for it as was with be by on not he this are or his from at which but "
    "have an they you were their one all we can her has there been if more when will would who so no "
    "sync mail folder server message flag state client patch release build cargo rust imap maildir "
    "meeting report budget review draft schedule invoice travel project deadline update question"
).split()
NAMES = ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy"]


@dataclasses.dataclass
class MailStats:
    """What a generated mailbox tree holds, for the report and for sanity checks."""

    messages: int = 0
    bytes: int = 0
    attachments: int = 0
    seen: int = 0
    flagged: int = 0
    per_folder: dict = dataclasses.field(default_factory=dict)


def folder_names(count):
    """`count` folder names with some hierarchy, INBOX first; the same names for the same count."""
    base = ["INBOX", "Archive", "Archive/2023", "Archive/2024", "Sent", "Drafts",
            "Lists/dev", "Lists/announce", "Work", "Trash"]
    names = base[:count]
    i = 0
    while len(names) < count:
        names.append(f"Lists/list{i:02d}" if i % 2 else f"Projects/p{i:02d}")
        i += 1
    return names


def folder_weights(names):
    """A skewed share per folder: real accounts have a big INBOX and archive, small Drafts/Trash."""
    weights = []
    for name in names:
        if name == "INBOX":
            weights.append(8.0)
        elif name.startswith("Archive"):
            weights.append(4.0)
        elif name in ("Drafts", "Trash"):
            weights.append(0.5)
        else:
            weights.append(2.0)
    return weights


class Pools:
    """Text and base64 line pools that message bodies are sliced from."""

    def __init__(self, rng):
        lines = []
        size = 0
        while size < (1 << 20):
            line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14))) + "\n"
            lines.append(line)
            size += len(line)
        self.text = "".join(lines).encode()
        raw = rng.randbytes(ATTACH_MAX * 3 // 4 + 4096)
        self.b64 = base64.encodebytes(raw)  # 76-character lines, LF ends

    @staticmethod
    def _slice(pool, rng, size):
        start = rng.randrange(len(pool) - 1)
        start = pool.find(b"\n", start) + 1  # begin at a line start
        out = bytearray()
        while len(out) < size:
            out += pool[start:start + size - len(out)]
            start = 0
        # End on a whole line so that every message ends with a newline.
        cut = out.rfind(b"\n")
        return bytes(out[:cut + 1]) if cut >= 0 else bytes(out) + b"\n"

    def text_body(self, rng, size):
        return self._slice(self.text, rng, max(size, 40))

    def attachment(self, rng, size):
        return self._slice(self.b64, rng, size)


def rfc2822_date(ts):
    import email.utils
    return email.utils.formatdate(ts, localtime=False)


def make_message(rng, pools, tag, index, with_attachment=None):
    """One message as bytes with LF line ends, and its date. `tag` keeps Message-IDs unique
    between corpora (the base account, later arrivals, local uploads)."""
    ts = EPOCH + rng.randrange(SPAN)
    sender = rng.choice(NAMES)
    subject = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8)))
    target = int(rng.lognormvariate(SIZE_MU, SIZE_SIGMA))
    if with_attachment is None:
        with_attachment = rng.random() < ATTACH_SHARE
    head = (
        f"Return-Path: <{sender.lower()}@example.org>\n"
        f"Received: from mx.example.org (mx.example.org [192.0.2.7])\n"
        f"\tby imap.example.net with ESMTPS id {tag}{index:08x}; {rfc2822_date(ts + 3)}\n"
        f"Date: {rfc2822_date(ts)}\n"
        f"From: {sender} <{sender.lower()}@example.org>\n"
        f"To: Bench User <bench@example.net>\n"
        f"Subject: {subject}\n"
        f"Message-ID: <{tag}.{index}@pimbench.example>\n"
        f"MIME-Version: 1.0\n"
    ).encode()
    if not with_attachment:
        body = pools.text_body(rng, min(target, TEXT_CAP) - len(head) - 60)
        msg = head + b"Content-Type: text/plain; charset=utf-8\n\n" + body
        return msg, ts, False
    boundary = f"=_pimbench_{tag}_{index}"
    size = int(math.exp(rng.uniform(math.log(ATTACH_MIN), math.log(ATTACH_MAX))))
    text = pools.text_body(rng, min(target, TEXT_CAP))
    attachment = pools.attachment(rng, size)
    msg = (
        head
        + f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n'.encode()
        + f"--{boundary}\nContent-Type: text/plain; charset=utf-8\n\n".encode()
        + text
        + f"\n--{boundary}\nContent-Type: application/octet-stream\n"
          f'Content-Disposition: attachment; filename="file{index}.bin"\n'
          f"Content-Transfer-Encoding: base64\n\n".encode()
        + attachment
        + f"\n--{boundary}--\n".encode()
    )
    return msg, ts, True


def pick_flags(rng):
    """Maildir flag letters in ASCII order (the order Maildir requires)."""
    flags = ""
    if rng.random() < FLAGGED_SHARE:
        flags += "F"
    if rng.random() < ANSWERED_SHARE:
        flags += "R"
    if rng.random() < SEEN_SHARE:
        flags += "S"
    return flags


def maildir_dirs(path):
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)


def write_dovecot_maildir(root, messages, folders, seed, attachments=True, tag="m"):
    """Writes `messages` messages spread over `folders` folders into a Dovecot Maildir tree with
    LAYOUT=fs (folder A/B in root/A/B, INBOX in root/INBOX). File names carry S= (size) and W=
    (size with CRLF) as Dovecot's own delivery writes them, so Dovecot need not read files to
    answer RFC822.SIZE. The caller then runs `doveadm force-resync` to assign UIDs."""
    rng = random.Random(seed)
    pools = Pools(random.Random(seed ^ 0x5EED))
    names = folder_names(folders)
    weights = folder_weights(names)
    stats = MailStats(per_folder={n: 0 for n in names})
    for name in names:
        maildir_dirs(os.path.join(root, name))
    for i in range(messages):
        folder = rng.choices(names, weights)[0]
        msg, ts, has_att = make_message(rng, pools, tag, i, None if attachments else False)
        flags = pick_flags(rng)
        vsize = len(msg) + msg.count(b"\n")
        fname = f"{ts}.M{i}P1.pimbench,S={len(msg)},W={vsize}:2,{flags}"
        path = os.path.join(root, folder, "cur", fname)
        with open(path, "wb") as f:
            f.write(msg)
        os.utime(path, (ts, ts))
        stats.messages += 1
        stats.bytes += len(msg)
        stats.attachments += has_att
        stats.seen += "S" in flags
        stats.flagged += "F" in flags
        stats.per_folder[folder] += 1
    return stats


def write_huge_maildir(root, sizes_mib, small, seed):
    """An INBOX with one message of each size in `sizes_mib` (a base64 attachment of that many
    MiB) among `small` ordinary ones, for the peak memory of downloading very large messages.
    Returns MailStats like write_dovecot_maildir."""
    rng = random.Random(seed)
    pools = Pools(random.Random(seed ^ 0x5EED))
    stats = MailStats(per_folder={"INBOX": 0})
    inbox = os.path.join(root, "INBOX")
    maildir_dirs(inbox)
    messages = [make_message(rng, pools, "h", i, False)[:2] for i in range(small)]
    for j, mib in enumerate(sizes_mib):
        msg, ts, _ = make_message(rng, pools, "H", j, False)
        head, _, body = msg.partition(b"\n\n")
        boundary = f"=_pimbench_huge_{j}"
        attachment = b"".join(pools.attachment(rng, 1 << 20) for _ in range(mib))
        msg = (
            head.replace(b"Content-Type: text/plain; charset=utf-8",
                         f'Content-Type: multipart/mixed; boundary="{boundary}"'.encode())
            + f"\n\n--{boundary}\nContent-Type: text/plain; charset=utf-8\n\n".encode() + body
            + f"\n--{boundary}\nContent-Type: application/octet-stream\n"
              f"Content-Transfer-Encoding: base64\n\n".encode()
            + attachment + f"\n--{boundary}--\n".encode()
        )
        messages.append((msg, ts))
        stats.attachments += 1
    for i, (msg, ts) in enumerate(messages):
        vsize = len(msg) + msg.count(b"\n")
        path = os.path.join(inbox, "cur", f"{ts}.M{i}P2.pimbench,S={len(msg)},W={vsize}:2,S")
        with open(path, "wb") as f:
            f.write(msg)
        os.utime(path, (ts, ts))
        stats.messages += 1
        stats.bytes += len(msg)
        stats.seen += 1
        stats.per_folder["INBOX"] += 1
    return stats


def extra_messages(count, seed, tag):
    """`count` further messages (arrivals on the server, local drafts to upload), no big
    attachments so that the incremental scenarios measure sync logic, not bulk transfer."""
    rng = random.Random(seed)
    pools = Pools(random.Random(seed ^ 0x5EED))
    return [make_message(rng, pools, tag, i, False)[0] for i in range(count)]


# ---- calendars and contacts -------------------------------------------------------------------

def _ics_time(ts):
    import time
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(ts))


def make_event(rng, cal, i):
    uid = f"{cal}-{i}@pimbench.example"
    start = EPOCH + rng.randrange(SPAN) // 1800 * 1800
    length = rng.choice([1800, 3600, 5400, 7200])
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//pimlink//bench//EN",
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"DTSTAMP:{_ics_time(EPOCH)}",
        f"DTSTART:{_ics_time(start)}",
        f"DTEND:{_ics_time(start + length)}",
        "SUMMARY:" + " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6))),
    ]
    if rng.random() < 0.3:
        # A recurring event: weekly or monthly, some with an end and an exception.
        if rng.random() < 0.5:
            lines.append(f"RRULE:FREQ=WEEKLY;COUNT={rng.randint(4, 52)}")
        else:
            lines.append("RRULE:FREQ=MONTHLY;BYMONTHDAY=" + str(rng.randint(1, 28)))
            lines.append(f"EXDATE:{_ics_time(start + 31 * 86400)}")
    if rng.random() < 0.4:
        lines.append("DESCRIPTION:" + " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 40))))
    if rng.random() < 0.2:
        lines += ["BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:Reminder",
                  "TRIGGER:-PT15M", "END:VALARM"]
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return uid, "\r\n".join(lines) + "\r\n"


def make_contact(rng, i):
    uid = f"contact-{i}@pimbench.example"
    first = rng.choice(NAMES)
    last = rng.choice(WORDS).capitalize() + str(i)
    lines = [
        "BEGIN:VCARD", "VERSION:3.0",
        f"UID:{uid}",
        f"FN:{first} {last}",
        f"N:{last};{first};;;",
        f"EMAIL;TYPE=INTERNET:{first.lower()}.{last.lower()}@example.org",
        f"TEL;TYPE=CELL:+1555{rng.randrange(10**7):07d}",
    ]
    if rng.random() < 0.3:
        lines.append(f"ORG:{rng.choice(WORDS).capitalize()} Inc.")
    if rng.random() < 0.2:
        lines.append(f"NOTE:{' '.join(rng.choice(WORDS) for _ in range(12))}")
    lines.append("END:VCARD")
    return uid, "\r\n".join(lines) + "\r\n"


def write_radicale_collections(user_root, calendars, events, contacts, seed):
    """Writes calendars (cal1..calN) and one address book straight into Radicale 3's filesystem
    storage (`collection-root/<user>/`). Returns the number of items written."""
    import json
    rng = random.Random(seed)
    total = 0
    for c in range(1, calendars + 1):
        path = os.path.join(user_root, f"cal{c}")
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, ".Radicale.props"), "w") as f:
            json.dump({"tag": "VCALENDAR", "D:displayname": f"Calendar {c}",
                       "C:supported-calendar-component-set": "VEVENT"}, f)
        for i in range(events):
            uid, text = make_event(rng, f"cal{c}", i)
            with open(os.path.join(path, f"{uid}.ics"), "w", newline="") as f:
                f.write(text)
            total += 1
    path = os.path.join(user_root, "contacts")
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, ".Radicale.props"), "w") as f:
        json.dump({"tag": "VADDRESSBOOK", "D:displayname": "Contacts"}, f)
    for i in range(contacts):
        uid, text = make_contact(rng, i)
        with open(os.path.join(path, f"{uid}.vcf"), "w", newline="") as f:
            f.write(text)
        total += 1
    return total
