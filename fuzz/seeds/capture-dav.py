"""Captures real Radicale and Xandikos answers to the requests pimlink sends, as fuzz seeds.

Usage: python3 fuzz/seeds/capture-dav.py fuzz/seeds/dav_multistatus  (starts both servers on
loopback in a temporary directory, needs the Debian packages radicale and xandikos)."""
import base64, os, subprocess, sys, time, tempfile, urllib.request, socket, pathlib

OUT = pathlib.Path(sys.argv[1])
OUT.mkdir(parents=True, exist_ok=True)
XMLNS = ('xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" '
         'xmlns:cr="urn:ietf:params:xml:ns:carddav" xmlns:ical="http://apple.com/ns/ical/" '
         'xmlns:cs="http://calendarserver.org/ns/"')
PROPS = ('<d:resourcetype/><d:displayname/><d:supported-report-set/><ical:calendar-color/>'
         '<c:calendar-description/><cr:addressbook-description/>'
         '<c:supported-calendar-component-set/><cs:getctag/><d:getlastmodified/><d:sync-token/>')
EVENT = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//pimlink//fuzz//EN\r\nBEGIN:VEVENT\r\n"
         "UID:{uid}\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240102T100000Z\r\n"
         "SUMMARY:Lunch & <more>\r\nDESCRIPTION:a long line that is folded by the writer a\r\n nd continues here\r\n"
         "END:VEVENT\r\nEND:VCALENDAR\r\n")
CARD = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:A Person\r\nN:Person;A;;;\r\nEMAIL:a@example.com\r\nEND:VCARD\r\n"

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def req(base, method, path, body=None, depth=None, auth=None, ctype="application/xml; charset=utf-8", extra=None):
    r = urllib.request.Request(base + path, data=body.encode() if body else None, method=method)
    if body: r.add_header("Content-Type", ctype)
    if depth is not None: r.add_header("Depth", depth)
    if auth: r.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    for k, v in (extra or {}).items(): r.add_header(k, v)
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()

def wait(base, auth):
    for _ in range(200):
        try:
            req(base, "OPTIONS", "/", auth=auth); return
        except Exception:
            time.sleep(0.1)
    raise SystemExit("server did not start")

def session(name, base, home_cal, home_card, auth):
    saved = 0
    def save(label, status, body):
        nonlocal saved
        (OUT / f"{name}-{label}.xml").write_text(body)
        saved += 1
    cal, book = home_cal + "work/", home_card + "people/"
    print(req(base, "MKCALENDAR", cal, auth=auth)[0])
    print(req(base, "MKCOL", book, body=f'<d:mkcol {XMLNS}><d:set><d:prop><d:resourcetype><d:collection/><cr:addressbook/></d:resourcetype></d:prop></d:set></d:mkcol>', auth=auth)[0])
    for uid in ["one@example.com", "two with space", "drei-ä"]:
        fname = uid.replace(" ", "%20").replace("ä", "%C3%A4")
        print(req(base, "PUT", cal + fname + ".ics", body=EVENT.format(uid=uid), ctype="text/calendar", auth=auth, extra={"If-None-Match": "*"})[0])
        print(req(base, "PUT", book + fname + ".vcf", body=CARD.format(uid=uid), ctype="text/vcard", auth=auth, extra={"If-None-Match": "*"})[0])
    save("principal", *req(base, "PROPFIND", "/", body=f'<d:propfind {XMLNS}><d:prop><d:current-user-principal/><c:calendar-home-set/><cr:addressbook-home-set/></d:prop></d:propfind>', depth="0", auth=auth))
    save("home-cal", *req(base, "PROPFIND", home_cal, body=f'<d:propfind {XMLNS}><d:prop>{PROPS}</d:prop></d:propfind>', depth="1", auth=auth))
    save("home-card", *req(base, "PROPFIND", home_card, body=f'<d:propfind {XMLNS}><d:prop>{PROPS}</d:prop></d:propfind>', depth="1", auth=auth))
    save("etags", *req(base, "PROPFIND", cal, body=f'<d:propfind {XMLNS}><d:prop><d:resourcetype/><d:getetag/></d:prop></d:propfind>', depth="1", auth=auth))
    hrefs = "".join(f"<d:href>{cal}{h}.ics</d:href>" for h in ["one@example.com", "two%20with%20space", "missing"])
    save("multiget-cal", *req(base, "REPORT", cal, body=f'<c:calendar-multiget {XMLNS}><d:prop><d:getetag/><c:calendar-data/></d:prop>{hrefs}</c:calendar-multiget>', depth="1", auth=auth))
    hrefs = "".join(f"<d:href>{book}{h}.vcf</d:href>" for h in ["one@example.com", "drei-%C3%A4"])
    save("multiget-card", *req(base, "REPORT", book, body=f'<cr:addressbook-multiget {XMLNS}><d:prop><d:getetag/><cr:address-data/></d:prop>{hrefs}</cr:addressbook-multiget>', depth="1", auth=auth))
    status, body = req(base, "REPORT", cal, body=f'<d:sync-collection {XMLNS}><d:sync-token></d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>', depth="0", auth=auth)
    save("sync-initial", status, body)
    import re
    token = re.search(r"sync-token>([^<]*)<", body)
    req(base, "DELETE", cal + "one@example.com.ics", auth=auth)
    if token:
        save("sync-after-delete", *req(base, "REPORT", cal, body=f'<d:sync-collection {XMLNS}><d:sync-token>{token.group(1)}</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>', depth="0", auth=auth))
    save("sync-bad-token", *req(base, "REPORT", cal, body=f'<d:sync-collection {XMLNS}><d:sync-token>http://bogus/token</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>', depth="0", auth=auth))
    save("proppatch", *req(base, "PROPPATCH", cal, body=f'<d:propertyupdate {XMLNS}><d:set><d:prop><d:displayname>Work &amp; more</d:displayname><ical:calendar-color>#ff0000ff</ical:calendar-color></d:prop></d:set></d:propertyupdate>', auth=auth))
    save("collection-info", *req(base, "PROPFIND", cal, body=f'<d:propfind {XMLNS}><d:prop>{PROPS}</d:prop></d:propfind>', depth="0", auth=auth))
    print(name, "saved", saved)

root = pathlib.Path(tempfile.mkdtemp(prefix="pimlink-seedcap-"))
port = free_port()
(root / "htpasswd").write_text("test:secret\n")
(root / "config").write_text(f"[server]\nhosts = 127.0.0.1:{port}\n[auth]\ntype = htpasswd\nhtpasswd_filename = {root}/htpasswd\nhtpasswd_encryption = plain\ndelay = 0\n[rights]\ntype = owner_only\n[storage]\nfilesystem_folder = {root}/collections\n[web]\ntype = none\n")
p = subprocess.Popen(["radicale", "--config", str(root / "config")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    base = f"http://127.0.0.1:{port}"
    wait(base, "test:secret")
    session("radicale", base, "/test/", "/test/", "test:secret")
finally:
    p.terminate(); p.wait()

port = free_port()
p = subprocess.Popen(["xandikos", "--defaults", "-d", str(root / "xdata"), "-l", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    base = f"http://127.0.0.1:{port}"
    wait(base, None)
    session("xandikos", base, "/user/calendars/", "/user/contacts/", None)
finally:
    p.terminate(); p.wait()
