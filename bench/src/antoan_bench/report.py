"""The report: a JSON file of every figure, a Markdown table with ratios to the baselines and SPEC §6, plots."""

from __future__ import annotations

import json
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


def rows(r: dict[str, Any]) -> list[tuple[str, str, str, str, str, str, str]]:
    """(figure, Antoan, PostgreSQL, Antoan/PostgreSQL, Kafka ceiling, Antoan/ceiling, SPEC §6 bar)."""
    batch = r["ingest_batch"]
    single = r["ingest_single"]
    occ = r["occupancy"]
    tracer = r["tracer"]
    cases = r["exposure"]
    pg = r["postgres"]
    ceiling = r["kafka_ceiling"]["records_per_s"]
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
            f"ingest, single scan p50 / p99 at {single['rate']:,.0f}/s (achieved {single['achieved_per_s']:,.0f}/s)",
            f"{_fmt(single['latency']['p50_ms'])} / {_fmt(single['latency']['p99_ms'], ' ms')}",
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
            "tracer, check-ins/s consumed catching up on the history",
            _fmt(tracer["catch_up_per_s"]),
            "–",
            "–",
            f"{_fmt(ceiling)} records/s",
            _ratio(tracer["catch_up_per_s"], ceiling),
            "keeps up with 10,000/s: " + _bar((tracer["catch_up_per_s"] or 0) >= 10_000),
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
            f"{_fmt(occ['p50_ms'])} / {_fmt(occ['p99_ms'], ' ms')}",
            "–",
            "–",
            "–",
            "–",
            "p99 ≤ 2 s: " + _bar(None if occ["p99_ms"] is None else occ["p99_ms"] <= 2000 and occ["timeouts"] == 0),
        ),
        (
            f"case confirmed → all F1 published, p50 / p99 ({cases['count']} cases, {r['scale']['days']} days)",
            f"{_fmt(cases['p50_ms'])} / {_fmt(cases['p99_ms'], ' ms')}",
            f"{_fmt(pg['contacts_query']['p50_ms'])} / {_fmt(pg['contacts_query']['p99_ms'], ' ms')} (overlap join)",
            _ratio(cases["p99_ms"], pg["contacts_query"]["p99_ms"]),
            "–",
            "–",
            "p99 ≤ 5 s at 500,000 visits/day: "
            + _bar(
                None
                if cases["p99_ms"] is None
                else cases["p99_ms"] <= 5000 and cases["complete"] and r["scale"]["visits_per_day"] >= 500_000
            ),
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
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], label=label, linewidth=1)
    ax.set_ylabel("check-ins / s")
    ax.legend()
    ax.grid(alpha=0.3)
    for stage, (start, end) in r["stage_spans"].items():
        ax.axvspan(start, end, alpha=0.08)
        ax.text(start, ax.get_ylim()[1] * 0.95, stage, fontsize=7, va="top")
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
