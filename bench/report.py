"""The results as a markdown table."""

from __future__ import annotations

from bench.harness import Row, fmt, fmt_ratio

HEADER = (
    "| what | baseline | baseline | launchbay | launchbay / baseline | reference | reference / baseline | target | met |\n"
    "|---|---|---:|---:|---:|---:|---:|---|---|"
)


def _met(row: Row) -> str:
    return {True: "yes", False: "**no**", None: "—"}[row.met]


def markdown(rows: list[Row], skipped: dict[str, str], meta: dict[str, str]) -> str:
    lines = [
        f"Medians; ratios against the baseline measured alongside, in the same run "
        f"({meta['mode']} run, {meta['date']}, commit {meta['commit']}, Python {meta['python']}, "
        f"{meta['cpus']} CPUs, load {meta['load']} at the end; reference: {meta['reference']}; {meta['seconds']} s).",
        "",
        HEADER,
    ]
    for row in rows:
        lines.append(
            f"| {row.what} | {row.baseline_name} | {fmt(row.baseline, row.unit)} | {fmt(row.launchbay, row.unit)} "
            f"| {fmt_ratio(row.ratio)} | {fmt(row.reference, row.unit)} | {fmt_ratio(row.reference_ratio)} "
            f"| {row.target} | {_met(row)} |"
        )
    for name, why in skipped.items():
        lines.append(f"| {name} | — | — | — | — | — | — | — | {why} |")
    notes = [f"- {row.what}: {row.note}" for row in rows if row.note]
    if notes:
        lines += ["", "Notes:", *notes]
    return "\n".join(lines) + "\n"
