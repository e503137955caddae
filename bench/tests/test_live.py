"""bench/live's own logic: percentiles and the cheap look at a folder that stops the clock."""

import os
import tempfile
import unittest

from pimbench import live


class LiveTest(unittest.TestCase):
    def test_percentiles(self):
        values = [float(v) for v in range(1, 101)]
        self.assertEqual(live.pct(values, 50), 51.0)
        self.assertEqual(live.pct(values, 95), 95.0)
        self.assertEqual(live.pct([0.2], 95), 0.2)
        self.assertNotEqual(live.pct([], 95), live.pct([], 95))  # nan: nothing arrived

    def test_inbox_state_counts_messages_and_flagged_ones(self):
        with tempfile.TemporaryDirectory() as root:
            for sub in ("cur", "new", "tmp"):
                os.makedirs(os.path.join(root, sub))
            for path in ("new/1.x", "cur/2.x:2,FS", "cur/3.x:2,S", "tmp/4.x", "cur/.hidden"):
                open(os.path.join(root, path), "w").close()
            self.assertEqual(live.inbox_state(root), (3, 1))


if __name__ == "__main__":
    unittest.main()
