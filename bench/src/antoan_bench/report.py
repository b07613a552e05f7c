"""The report: a JSON file of every figure, a Markdown table with ratios to the baselines and SPEC §6, plots."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "–"
    ratio = a / b
    return f"{ratio:.2f}×" if ratio >= 0.01 else f"{ratio:.4f}×"


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "–"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"
    return f"{text}{unit}"


def _bar(reached: bool | None) -> str:
    return "–" if reached is None else ("reached" if reached else "**not reached**")


CASE_TIMEOUT_MS = 60_000.0


def _nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))]


def case_latencies(r: dict[str, Any]) -> tuple[float | None, float | None, int, int]:
    """p50, p99 (ms; inf for a case whose F1 did not all arrive), complete cases, all cases."""
    cases = r["exposure"]["cases"]
    values = [math.inf if c["seconds"] is None else c["seconds"] * 1000 for c in cases]
    if not values:
        return None, None, 0, 0
    complete = sum(1 for v in values if v != math.inf)
    return _nearest_rank(values, 50), _nearest_rank(values, 99), complete, len(values)


def tracer_catch_up(r: dict[str, Any]) -> tuple[float | None, int | None, float]:
    """(check-ins/s committed by the tracer during the catch-up, lag left at its end, its length in s)."""
    start, end = r["stage_spans"]["tracer catch-up"]
    rates = [rate for at, rate in r["series"]["tracer_per_s"] if start <= at <= end]
    lags = [lag for at, lag in r["series"]["tracer_lag"] if at <= end]
    if r["tracer"]["catch_up_per_s"] is not None:
        return float(r["tracer"]["catch_up_per_s"]), 0, end - start
    return (sum(rates) / len(rates) if rates else None), (lags[-1] if lags else None), end - start


def _ms(value: float | None) -> str:
    if value is None:
        return "–"
    if value == math.inf:
        return f"> {CASE_TIMEOUT_MS:,.0f} ms"
    return _fmt(value, " ms")


def rows(r: dict[str, Any]) -> list[tuple[str, str, str, str, str, str, str]]:
    """(figure, Antoan, PostgreSQL, Antoan/PostgreSQL, Kafka ceiling, Antoan/ceiling, SPEC §6 bar)."""
    batch = r["ingest_batch"]
    single = r["ingest_single"]
    occ = r["occupancy"]
    tracer = r["tracer"]
    pg = r["postgres"]
    ceiling = r["kafka_ceiling"]["records_per_s"]
    tracer_rate, lag_left, catch_up_s = tracer_catch_up(r)
    tracer_text = _fmt(tracer_rate)
    if not tracer["caught_up"]:
        tracer_text += f" (not caught up after {catch_up_s:,.0f} s: {_fmt(lag_left)} records of lag left)"
    case_p50, case_p99, complete, n_cases = case_latencies(r)
    occ_text = f"{_fmt(occ['p50_ms'])} / {_fmt(occ['p99_ms'], ' ms')}"
    if occ["count"] == 0:
        occ_text = "none seen within 30 s"
    if occ["timeouts"]:
        occ_text += f" ({occ['timeouts']} probes timed out)"
    out = [
        (
            "ingest, batch endpoint, check-ins/s (acks=all)",
            _fmt(batch["per_s"]),
            f"{_fmt(pg['batched_insert_rows_per_s'])} rows/s",
            _ratio(batch["per_s"], pg["batched_insert_rows_per_s"]),
            f"{_fmt(ceiling)} records/s",
            _ratio(batch["per_s"], ceiling),
            f"≥ 10,000/s: {_bar(batch['per_s'] >= 10_000)}",
        ),
        (
            f"ingest, single scan p50 / p99 at {single['rate']:,.0f}/s for {single['seconds']:,.0f} s",
            f"{_fmt(single['latency']['p50_ms'])} / {_fmt(single['latency']['p99_ms'], ' ms')} "
            f"({single['accepted']:,} accepted, {single['achieved_per_s']:,.0f}/s; {single['failed']:,} failed)",
            f"{_fmt(pg['single_insert']['p50_ms'])} / {_fmt(pg['single_insert']['p99_ms'], ' ms')} (one-row insert)",
            _ratio(single["latency"]["p99_ms"], pg["single_insert"]["p99_ms"]),
            f"{_fmt(r['kafka_ceiling']['latency_p99_ms'], ' ms')} p99 (perf test)",
            _ratio(single["latency"]["p99_ms"], r["kafka_ceiling"]["latency_p99_ms"]),
            "p99 ≤ 50 ms at 2,000/s: "
            + _bar(
                single["latency"]["p99_ms"] is not None
                and single["latency"]["p99_ms"] <= 50
                and single["rate"] >= 2000
                and single["achieved_per_s"] >= 0.95 * single["rate"]
            ),
        ),
        (
            "tracer, check-ins/s committed catching up on the history",
            tracer_text,
            "–",
            "–",
            f"{_fmt(ceiling)} records/s",
            _ratio(tracer_rate, ceiling),
            "keeps up with 10,000/s: " + _bar((tracer_rate or 0) >= 10_000 and tracer["caught_up"]),
        ),
        (
            "tracer, max consumer lag during the single-scan stage (records)",
            _fmt(tracer["live_max_lag"]),
            "–",
            "–",
            "–",
            "–",
            "–",
        ),
        (
            f"check-in accepted → occupancy visible, p50 / p99 (during {single['rate']:,.0f}/s)",
            occ_text,
            "–",
            "–",
            "–",
            "–",
            "p99 ≤ 2 s: " + _bar(occ["p99_ms"] is not None and occ["p99_ms"] <= 2000 and occ["timeouts"] == 0),
        ),
        (
            f"case confirmed → all F1 published, p50 / p99 ({n_cases} cases, {r['scale']['days']} days of history)",
            f"{_ms(case_p50)} / {_ms(case_p99)} ({complete} of {n_cases} complete within 60 s)",
            f"{_fmt(pg['contacts_query']['p50_ms'])} / {_fmt(pg['contacts_query']['p99_ms'], ' ms')} (overlap join)",
            _ratio(case_p99 if case_p99 != math.inf else None, pg["contacts_query"]["p99_ms"]),
            "–",
            "–",
            "p99 ≤ 5 s at 500,000 visits/day: "
            + _bar(case_p99 is not None and case_p99 <= 5000 and r["scale"]["visits_per_day"] >= 500_000),
        ),
    ]
    memory = r["memory_peak_rss_mb"]
    for name, mb in memory.items():
        out.append((f"peak RSS, {name}", _fmt(mb, " MiB"), "–", "–", "–", "–", "–"))
    total = sum(mb for mb in memory.values() if mb is not None)
    out.append(
        (
            "peak RSS, everything Antoan runs / PostgreSQL (server and its backend)",
            _fmt(total, " MiB"),
            _fmt(pg["peak_rss_mb"], " MiB"),
            _ratio(total, pg["peak_rss_mb"]),
            "–",
            "–",
            "–",
        )
    )
    return out


def markdown(r: dict[str, Any]) -> str:
    s = r["scale"]
    head = (
        f"Run {r['started_at']} on {r['machine']}, seed {r['seed']}, scale `{r['scale_name']}`: "
        f"{s['visits_per_day']:,} visits/day × {s['days']} days ({r['history']['visits']:,} visits, "
        f"{r['history']['checkins']:,} check-ins), {s['people']:,} people, {s['venues']:,} venues. "
        f"Figures depend on whatever else the machine was running. Ratios: above 1 is better for a throughput, "
        f"below 1 is better for a latency or memory.\n\n"
    )
    lines = [
        "| figure | Antoan | PostgreSQL | Antoan / PostgreSQL | Kafka ceiling | Antoan / ceiling | SPEC §6 |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows(r)]
    return head + "\n".join(lines) + "\n"


def write(r: dict[str, Any], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(r, indent=2, default=str) + "\n", "utf-8")
    (out_dir / "report.md").write_text(markdown(r), "utf-8")
    plot(r, out_dir)


def plot(r: dict[str, Any], out_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = r["series"]
    fig, (ax, lag_ax) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    for name, label in (("ingest_per_s", "ingest accepted/s"), ("tracer_per_s", "tracer committed/s")):
        pts = series[name]
        if name == "ingest_per_s" and pts:  # one bucket a second: seconds without any accepted count as 0
            counts = dict(pts)
            pts = [(t, counts.get(t, 0)) for t in range(int(pts[0][0]), int(pts[-1][0]) + 1)]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], label=label, linewidth=1)
    ax.set_ylabel("check-ins / s")
    ax.legend()
    ax.grid(alpha=0.3)
    for stage, (start, end) in r["stage_spans"].items():
        ax.axvspan(start, end, alpha=0.08)
        ax.text(start, ax.get_ylim()[1] * 0.95, stage, fontsize=7, va="top", rotation=90)
    lag = series["tracer_lag"]
    lag_ax.plot([p[0] for p in lag], [p[1] for p in lag], color="tab:red", linewidth=1)
    lag_ax.set_ylabel("tracer consumer lag (records)")
    lag_ax.set_xlabel("seconds since the start of the run")
    lag_ax.grid(alpha=0.3)
    fig.suptitle(f"Antoan benchmark, scale {r['scale_name']}: throughput over time")
    fig.tight_layout()
    fig.savefig(out_dir / "throughput.png", dpi=110)
    plt.close(fig)

    dists = {k: v for k, v in r["latencies_ms"].items() if v}
    fig, axes = plt.subplots(1, max(1, len(dists)), figsize=(5 * max(1, len(dists)), 4))
    axes_list = list(axes) if len(dists) > 1 else [axes]
    for axis, (name, values) in zip(axes_list, dists.items(), strict=False):
        axis.hist(values, bins=50, color="tab:blue", alpha=0.8)
        axis.set_title(name, fontsize=9)
        axis.set_xlabel("ms")
        axis.set_yscale("log")
        axis.grid(alpha=0.3)
    fig.suptitle("Latency distributions")
    fig.tight_layout()
    fig.savefig(out_dir / "latency.png", dpi=110)
    plt.close(fig)


def rerender(out_dir: Path) -> None:
    """Write the table and plots of a run again from its report.json (after a change to this module)."""
    write(json.loads((out_dir / "report.json").read_text("utf-8")), out_dir)


if __name__ == "__main__":
    import sys

    for arg in sys.argv[1:]:
        rerender(Path(arg))
