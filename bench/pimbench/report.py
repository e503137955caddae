"""Medians, ratios and the Markdown table the runner prints."""

import statistics


def median(values):
    return statistics.median(values) if values else None


def fmt_seconds(s):
    if s is None:
        return "-"
    return f"{s:.3f}" if s < 10 else f"{s:.1f}"


def summarize(samples):
    """`samples`: list of measure.Sample for one (scenario, tool). Returns a dict of medians over
    the successful runs, and how many failed."""
    ok = [s for s in samples if s.ok]
    return {
        "wall": median([s.wall for s in ok]),
        "min": min((s.wall for s in ok), default=None),
        "max": max((s.wall for s in ok), default=None),
        "rss_mb": median([s.rss_kb / 1024 for s in ok]),
        "ok": len(ok),
        "failed": len(samples) - len(ok),
    }


def ratio(a, b):
    if a is None or b is None or b <= 0:
        return None
    return a / b


# The peer a variant of pimlink (a row named pimlink-...) is compared with.
PEERS = ("mbsync", "vdirsyncer")


def table(results, skipped, order):
    """`results[(scenario, tool)]` = list of samples; `skipped[(scenario, tool)]` = reason;
    `order` = [(scenario, [tools])]. Returns Markdown lines, one row per (scenario, tool), with
    the pimlink/tool ratio of median wall times (and of peak RSS)."""
    lines = [
        "| scenario | tool | median s | min-max s | peak RSS MB | runs ok | pimlink/tool time | pimlink/tool RSS |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for scenario, tools in order:
        pim = summarize(results.get((scenario, "pimlink"), []))
        for tool in tools:
            key = (scenario, tool)
            if key in skipped:
                short = skipped[key].split(":", 1)[0]
                lines.append(f"| {scenario} | {tool} | {short} | | | | | |")
                continue
            s = summarize(results.get(key, []))
            runs = f"{s['ok']}" + (f" ({s['failed']} FAILED)" if s["failed"] else "")
            if tool == "pimlink":
                rt = rr = ""
            elif tool.startswith("pimlink-"):
                # A variant: its own ratio against the scenario's peer, named in the cell.
                peer = next((p for p in PEERS if p in tools), None)
                ps = summarize(results.get((scenario, peer), [])) if peer else None
                r1 = ratio(s["wall"], ps["wall"]) if ps else None
                r2 = ratio(s["rss_mb"], ps["rss_mb"]) if ps else None
                rt = f"{r1:.2f} (vs {peer})" if r1 is not None else "n/a"
                rr = f"{r2:.2f} (vs {peer})" if r2 is not None else "n/a"
            else:
                r1, r2 = ratio(pim["wall"], s["wall"]), ratio(pim["rss_mb"], s["rss_mb"])
                rt = f"{r1:.2f}" if r1 is not None else "n/a"
                rr = f"{r2:.2f}" if r2 is not None else "n/a"
            span = (f"{fmt_seconds(s['min'])}-{fmt_seconds(s['max'])}"
                    if s["min"] is not None else "-")
            rss = f"{s['rss_mb']:.1f}" if s["rss_mb"] is not None else "-"
            lines.append(f"| {scenario} | {tool} | {fmt_seconds(s['wall'])} | {span} | {rss} "
                         f"| {runs} | {rt} | {rr} |")
    # The table shows only the reason's first word; the notes below it give the whole reason,
    # once per distinct (tool, reason).
    grouped = {}
    for (scenario, tool), why in skipped.items():
        grouped.setdefault((tool, why), []).append(scenario)
    notes = [f"- {tool} skipped ({', '.join(sorted(scenarios))}): {why}"
             for (tool, why), scenarios in sorted(grouped.items())]
    return lines + ([""] + notes if notes else [])
