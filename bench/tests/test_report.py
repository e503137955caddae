"""Medians, ratios and skip notes in the table."""

import unittest

from pimbench import report
from pimbench.measure import Sample


class ReportTest(unittest.TestCase):
    def test_medians_ratios_and_failures(self):
        results = {
            ("s", "pimlink"): [Sample(1.0, 10240, 0), Sample(3.0, 10240, 0), Sample(2.0, 10240, 0)],
            ("s", "mbsync"): [Sample(4.0, 5120, 0), Sample(99.0, 5120, 1), Sample(4.0, 5120, 0)],
        }
        lines = report.table(results, {}, [("s", ["pimlink", "mbsync"])])
        pim = next(l for l in lines if "| pimlink |" in l)
        mb = next(l for l in lines if "| mbsync |" in l)
        self.assertIn("| 2.000 | 1.000-3.000 | 10.0 | 3 |", pim)
        # The failed run is left out of the median and counted.
        self.assertIn("| 4.000 | 4.000-4.000 | 5.0 | 2 (1 FAILED) | 0.50 | 2.00 |", mb)

    def test_skipped_rows_and_notes(self):
        results = {("s", "mbsync"): [Sample(1.0, 1024, 0)]}
        skipped = {("s", "pimlink"): "not yet: type imap cannot be synced"}
        lines = report.table(results, skipped, [("s", ["pimlink", "mbsync"])])
        self.assertIn("| s | pimlink | not yet | | | | | |", lines)
        self.assertIn("n/a", next(l for l in lines if "| mbsync |" in l))
        self.assertIn("- pimlink skipped (s): not yet: type imap cannot be synced", lines)

    def test_a_variant_of_pimlink_is_compared_with_the_peer(self):
        results = {
            ("s", "pimlink"): [Sample(1.0, 10240, 0)],
            ("s", "pimlink-1conn"): [Sample(2.0, 5120, 0)],
            ("s", "mbsync"): [Sample(4.0, 5120, 0)],
        }
        lines = report.table(results, {}, [("s", ["pimlink", "pimlink-1conn", "mbsync"])])
        variant = next(l for l in lines if "| pimlink-1conn |" in l)
        self.assertIn("| 0.50 (vs mbsync) | 1.00 (vs mbsync) |", variant)

    def test_timeout_counts_as_failure(self):
        s = report.summarize([Sample(5.0, 1, 0, timed_out=True)])
        self.assertEqual((s["ok"], s["failed"], s["wall"]), (0, 1, None))


if __name__ == "__main__":
    unittest.main()
