"""bench/live's own logic: percentiles, flags from Maildir names, and the comparison of both
sides that decides whether a daemon's run counts."""

import os
import tempfile
import unittest

from pimbench import live


def deliver(root, folder, sub, name, message_id):
    d = os.path.join(root, folder, sub)
    for s in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(root, folder, s), exist_ok=True)
    with open(os.path.join(d, name), "w") as f:
        f.write(f"Message-ID: {message_id}\r\nSubject: x\r\n\r\nbody\r\n")


class LiveTest(unittest.TestCase):
    def test_percentiles(self):
        values = [float(v) for v in range(1, 101)]
        self.assertEqual(live.pct(values, 50), 51.0)
        self.assertEqual(live.pct(values, 95), 95.0)
        self.assertEqual(live.pct([0.2], 95), 0.2)
        self.assertNotEqual(live.pct([], 95), live.pct([], 95))  # nan: nothing arrived

    def test_flags_ignore_order_and_lowercase_keywords(self):
        self.assertEqual(live.flags_of("1.M1.host,S=5:2,SFa"), "FS")
        self.assertEqual(live.flags_of("1.M1.host"), "")

    def test_snapshot_tells_a_missing_message_and_a_flag_apart(self):
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            deliver(a, "INBOX", "cur", "1.x:2,S", "<1@x>")
            deliver(b, "INBOX", "new", "9.y", "<1@x>")
            self.assertEqual(live.snapshot(a), {("INBOX", "<1@x>"): "S"})
            self.assertNotEqual(live.snapshot(a), live.snapshot(b))
            os.rename(os.path.join(b, "INBOX", "new", "9.y"),
                      os.path.join(b, "INBOX", "cur", "9.y:2,S"))
            self.assertEqual(live.snapshot(a), live.snapshot(b))
            self.assertEqual(live.inbox_state(os.path.join(a, "INBOX")), (1, 0))


if __name__ == "__main__":
    unittest.main()
