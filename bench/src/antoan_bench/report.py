"""The report: a JSON file of every figure, a Markdown table with ratios to the baselines and SPEC §6, the
stages with what ran during each, and plots."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

FLOOD_BAR = 5_000  # issue 11's acceptance: check-ins/s the tracer clears with ingest idle
SPEC_TRACER_RATE = 10_000  # SPEC §6: keeps up with 10,000 check-ins/s
COMPONENTS = ("ingest", "tracer", "safety-map", "kafka", "redis", "benchmark")


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


def _nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))]


def case_latencies(r: dict[str, Any], key: str = "seconds") -> tuple[float | None, float | None, int, int]:
    """p50, p99 (ms; inf for a case whose F1 did not all arrive), complete cases, all cases."""
    cases = r["exposure"]["cases"]
    values = [math.inf if c[key] is None else c[key] * 1000 for c in cases]
    if not values:
        return None, None, 0, 0
    complete = sum(1 for v in values if v != math.inf)
    return _nearest_rank(values, 50), _nearest_rank(values, 99), complete, len(values)


def _ms(value: float | None, timeout_ms: float) -> str:
    if value is None:
        return "–"
    if value == math.inf:
        return f"> {timeout_ms:,.0f} ms"
    return _fmt(value, " ms")


def _cleared_text(c: dict[str, Any], stage: dict[str, Any] | None, timeout: str = "") -> str:
    """The tracer's rate (every stage's work done), how fast its group read the check-ins, and how many it
    cleared per second of CPU it used (a figure a busy machine changes less)."""
    read = c.get("read_per_s")
    read_text = f"read (committed on checkins.v1) at {_fmt(read)}/s" if read else "not all read"
    cpu = stage["cpu_s"].get("tracer") if stage else None
    if cpu:
        read_text += f"; {_fmt(c['records'] / cpu)} per tracer CPU-second ({_fmt(cpu)} CPU s)"
    if c["per_s"] is None:
        return f"not cleared{timeout}: {c['lag_left']:,} records left ({read_text})"
    return f"{_fmt(c['per_s'])} ({c['records']:,} in {c['seconds']:,.1f} s; {read_text})"


def _stage(r: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((s for s in r.get("stages", []) if s["name"] == name), None)


def _div(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def _times(value: float | None) -> str:
    return "–" if value is None else f"{value:.3g}×"


def _single_row(
    single: dict[str, Any], pg: dict[str, Any], r: dict[str, Any], what: str
) -> tuple[str, str, str, str, str, str, str]:
    latency = single["latency"]
    generator = single.get("generator", "Python client").split(",")[0]
    shortfall = ""
    if latency["p99_ms"] is not None and latency["p99_ms"] > 50:
        shortfall = f" ({latency['p99_ms'] / 50:,.3g}× the bar)"
    return (
        f"ingest, single scan p50 / p99 at {single['rate']:,.0f}/s for {single['seconds']:,.0f} s, by {generator} "
        f"({what})",
        f"{_fmt(latency['p50_ms'])} / {_fmt(latency['p99_ms'], ' ms')} "
        f"({single['accepted']:,} accepted, {single['achieved_per_s']:,.0f}/s; {single['failed']:,} failed"
        + (
            f"; {unsent:,} never sent: the generator stopped before their turn"
            if (unsent := single.get("unsent", 0))
            else ""
        )
        + ")",
        f"{_fmt(pg['single_insert']['p50_ms'])} / {_fmt(pg['single_insert']['p99_ms'], ' ms')} (one-row insert)",
        _ratio(latency["p99_ms"], pg["single_insert"]["p99_ms"]),
        f"{_fmt(r['kafka_ceiling']['latency_p99_ms'], ' ms')} p99 (perf test)",
        _ratio(latency["p99_ms"], r["kafka_ceiling"]["latency_p99_ms"]),
        "p99 ≤ 50 ms at 2,000/s: "
        + _bar(
            latency["p99_ms"] is not None
            and latency["p99_ms"] <= 50
            and single["rate"] >= 2000
            and single["achieved_per_s"] >= 0.95 * single["rate"]
        )
        + shortfall,
    )


def _warmup_text(batch: dict[str, Any]) -> str:
    """What was sent before the timed batches (runs before the warm-up existed have none)."""
    warmup = batch.get("warmup")
    if not warmup:
        return ""
    return (
        f", after a warm-up of {warmup['accepted']:,} check-ins by other people, not timed "
        f"(the first traffic of a started ingest: {_fmt(warmup['per_s'])}/s)"
    )


def rows(r: dict[str, Any]) -> list[tuple[str, str, str, str, str, str, str]]:
    """(figure, Antoan, PostgreSQL, Antoan/PostgreSQL, Kafka ceiling, Antoan/ceiling, SPEC §6 bar).

    A tracer rate is check-ins over the time until every stage's work was done (its inboxes drained), not
    only until its group had read them off checkins.v1 (shown beside it).
    """
    batch = r["ingest_batch"]
    single = r["ingest_single"]
    occ = r["occupancy"]
    tracer = r["tracer"]
    pg = r["postgres"]
    flood = r["flood"]
    hot = r["hot_venue"]
    hist = r["history_load"]
    restart = r["tracer_restart"]
    ceiling = r["kafka_ceiling"]["records_per_s"]
    ceiling_text = f"{_fmt(ceiling)} records/s"
    scale = r["scale"]
    timeout_ms = r["exposure"]["timeout_seconds"] * 1000

    flood_rate = flood["tracer"]["per_s"]
    plain = flood["plain"]
    flood_text = _cleared_text(flood["tracer"], _stage(r, "tracer flood"))
    if plain:
        ratio = _times(_div(flood_rate, plain["per_s"]))
        flood_text += f"; a plain consumer read them at {_fmt(plain['per_s'])}/s: tracer / plain {ratio}"
    hot_rate = hot["tracer"]["per_s"]
    fresh = hot["fresh_scans"]
    fresh_text = f"{_fmt(fresh['p50_ms'])} / {_fmt(fresh['max_ms'], ' ms')} ({fresh['count']} scans)"
    if fresh["timeouts"]:
        fresh_text += f", {fresh['timeouts']} not seen within 30 s"
    hist_rate = hist["per_s"]
    hist_text = _cleared_text(hist, _stage(r, "history"), f" within {hist['timeout_seconds']:,.0f} s")
    hist_text += f"; written at {_fmt(hist['write_per_s'])}/s"
    case_p50, case_p99, complete, n_cases = case_latencies(r)
    v2_p50, v2_p99, v2_complete, _ = case_latencies(r, "v2_seconds")
    occ_text = f"{_fmt(occ['p50_ms'])} / {_fmt(occ['p99_ms'], ' ms')}"
    if occ["count"] == 0:
        occ_text = "none seen within 30 s"
    if occ["timeouts"]:
        occ_text += f" ({occ['timeouts']} probes timed out)"
    national = scale["visits_per_day"] >= 500_000 and scale["days"] >= 7
    history_desc = f"{scale['days']} days × {scale['visits_per_day']:,} visits/day"
    out = [
        (
            "ingest, batch endpoint, check-ins/s (acks=all; tracer stopped)" + _warmup_text(batch),
            _fmt(batch["per_s"]),
            f"{_fmt(pg['batched_insert_rows_per_s'])} rows/s",
            _ratio(batch["per_s"], pg["batched_insert_rows_per_s"]),
            ceiling_text,
            _ratio(batch["per_s"], ceiling),
            f"≥ 10,000/s: {_bar(batch['per_s'] >= 10_000)}"
            + ("" if batch["per_s"] >= 10_000 else f" ({batch['per_s'] / 10_000:.3g}× the bar)"),
        ),
        *(
            [_single_row(alone, pg, r, "ingest alone: tracer stopped, safety map idle")]
            if (alone := r.get("ingest_single_alone"))
            else []
        ),
        _single_row(single, pg, r, "end to end: tracer and safety map running, occupancy probes"),
        (
            f"tracer flood, check-ins/s cleared ({flood['records']:,} written straight onto checkins.v1 at "
            f"{_fmt(flood['write_per_s'])}/s, {flood['venues']} venues; ingest idle)",
            flood_text,
            "–",
            "–",
            ceiling_text,
            _ratio(flood_rate, ceiling),
            f"≥ {FLOOD_BAR:,}/s (issue 11; goal {SPEC_TRACER_RATE:,}): "
            + _bar(flood_rate is not None and flood_rate >= FLOOD_BAR),
        ),
        (
            f"tracer, hot venue: one venue's day of {hot['visits']:,} visits ({hot['tracer']['records']:,} "
            "check-ins), check-ins/s cleared (ingest idle)",
            _cleared_text(hot["tracer"], _stage(r, "hot venue")),
            "–",
            "–",
            ceiling_text,
            _ratio(hot_rate, ceiling),
            f"≥ {FLOOD_BAR:,}/s, as the flood: " + _bar(hot_rate is not None and hot_rate >= FLOOD_BAR),
        ),
        (
            "hot venue, fresh scan (ingest's 202) → occupancy.v1 once the backlog is cleared, p50 / max",
            fresh_text,
            "–",
            "–",
            "–",
            "–",
            "≤ 2 s: " + _bar(fresh["count"] > 0 and fresh["timeouts"] == 0 and (fresh["max_ms"] or math.inf) <= 2000),
        ),
        (
            f"tracer, history of {history_desc} ({hist['records']:,} check-ins straight onto checkins.v1), "
            "check-ins/s cleared (ingest idle)",
            hist_text,
            "–",
            "–",
            ceiling_text,
            _ratio(hist_rate, ceiling),
            f"keeps up with {SPEC_TRACER_RATE:,}/s: " + _bar(hist_rate is not None and hist_rate >= SPEC_TRACER_RATE),
        ),
        (
            "tracer restart: ready, then ingest's batch cleared",
            f"ready in {restart['ready_seconds']:,.1f} s; "
            + (
                f"{restart['records']:,} check-ins cleared {restart['seconds']:,.1f} s after the start"
                if restart["seconds"] is not None
                else f"not cleared: {restart['lag_left']:,} left"
            ),
            "–",
            "–",
            "–",
            "–",
            "–",
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
            f"check-in accepted → occupancy visible on the safety map, p50 / p99 (during {single['rate']:,.0f}/s)",
            occ_text,
            "–",
            "–",
            "–",
            "–",
            "p99 ≤ 2 s: " + _bar(occ["p99_ms"] is not None and occ["p99_ms"] <= 2000 and occ["timeouts"] == 0),
        ),
        (
            f"case confirmed → all F1 on exposures.v1, p50 / p99 ({n_cases} cases, {history_desc} in state)",
            f"{_ms(case_p50, timeout_ms)} / {_ms(case_p99, timeout_ms)} ({complete} of {n_cases} complete within "
            f"{timeout_ms / 1000:,.0f} s; {sum(c['unexpected_f1'] for c in r['exposure']['cases'])} wrong F1)",
            f"{_fmt(pg['contacts_query']['p50_ms'])} / {_fmt(pg['contacts_query']['p99_ms'], ' ms')} (overlap join)",
            _ratio(case_p99 if case_p99 != math.inf else None, pg["contacts_query"]["p99_ms"]),
            "–",
            "–",
            "p99 ≤ 5 s at 500,000 visits/day × 7 days: "
            + (
                _bar(case_p99 is not None and case_p99 <= 5000)
                if national
                else f"not this scale (≤ 5 s here: {_bar(case_p99 is not None and case_p99 <= 5000)})"
            ),
        ),
        (
            "case confirmed → exposures.v2 exactly the expected F1 (latest per person), p50 / p99",
            f"{_ms(v2_p50, timeout_ms)} / {_ms(v2_p99, timeout_ms)} ({v2_complete} of {n_cases} exact)",
            "–",
            "–",
            "–",
            "–",
            "–",
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
    state = tracer["state_on_disk_mb"]
    out.append(
        (
            "tracer state on disk (TRACER_DATA_DIR), after the history / at the end",
            f"{_fmt(state['after_history'], ' MiB')} / {_fmt(state['end'], ' MiB')}",
            "–",
            "–",
            "–",
            "–",
            "–",
        )
    )
    return out


def stage_rows(r: dict[str, Any]) -> list[str]:
    head = "| stage | s | measures | what else ran | " + " | ".join(f"CPU s, {c}" for c in COMPONENTS)
    lines = [
        head + " | CPU s taken by the hypervisor | load average at its end |",
        "|" + "---|" * (6 + len(COMPONENTS)),
    ]
    for s in r["stages"]:
        cpu = " | ".join(_fmt(s["cpu_s"].get(c)) for c in COMPONENTS)
        span = s["end"] - s["start"]
        load = _fmt(s.get("load_1m"))
        stolen = _fmt(s.get("stolen_s"))
        lines.append(f"| {s['name']} | {span:,.1f} | {s['measures']} | {s['others']} | {cpu} | {stolen} | {load} |")
    return lines


def markdown(r: dict[str, Any]) -> str:
    s = r["scale"]
    h = r["history"]
    head = (
        f"Run {r['started_at']} on {r['machine']}, seed {r['seed']}, scale `{r['scale_name']}`: "
        f"{s['visits_per_day']:,} visits/day × {s['days']} days ({h['visits']:,} visits, "
        f"{h['checkins']:,} check-ins), {h['people']:,} people, {h['venues']:,} venues; "
        f"{r['total_seconds']:,.0f} s in all. Figures depend on whatever else the machine was running. "
        f"Ratios: above 1 is better for a throughput, below 1 is better for a latency or memory.\n\n"
    )
    if s["visits_per_day"] < 500_000 or s["days"] < 7:
        head += (
            "This is not SPEC §6's national figure (500,000 visits/day × 7 days): run it with "
            '`make bench BENCH_ARGS="--scale national"`.\n\n'
        )
    lines = [
        "| figure | Antoan | PostgreSQL | Antoan / PostgreSQL | Kafka ceiling | Antoan / ceiling | SPEC §6 |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows(r)]
    stages = (
        "\n\nStages, in order, with the CPU time each component used during them, the CPU time the hypervisor "
        "gave to other machines while this one's wanted to run (steal: on a shared virtual machine, every figure "
        "of a stage with much of it is low) and the machine's load "
        f"average ({r['machine'].split(', ')[1]}; above the benchmark's own, something else was running). "
        "The benchmark's column is its own process: the load generators it starts (scanload, Kafka's "
        "ProducerPerformance) and its profiler (py-spy) are not in it; decision 0004 measures scanload at about "
        "100 µs of CPU a request."
        "\n\n" + "\n".join(stage_rows(r))
    )
    return head + "\n".join(lines) + stages + "\n" + profile_section(r)


def profile_section(r: dict[str, Any]) -> str:
    """Where each profiled stage's CPU went in the service it measures (py-spy, self time)."""
    profiles = r.get("profiles")
    if not profiles:
        return ""
    lines = [
        "",
        "Where the CPU went, sampled by py-spy during the stage at 50 Hz (self time: the share of the samples "
        "of the thread holding the GIL spent in each package and function; native code counts to the Python "
        "frame that called it):",
        "",
        "| stage | service | samples | by package | top functions |",
        "|---|---|---|---|---|",
    ]
    for stage, services in profiles.items():
        for service, p in services.items():
            if "error" in p:
                lines.append(f"| {stage} | {service} | – | not profiled: {p['error']} | – |")
                continue
            packages = ", ".join(f"{name} {pct:g} %" for name, pct in p["by_package_pct"])
            functions = ", ".join(f"`{name}` {pct:g} %" for name, pct in p["by_function_pct"][:5])
            lines.append(f"| {stage} | {service} | {p['samples']:,} | {packages} | {functions} |")
    return "\n".join(lines) + "\n"


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

    plot_flood(r, out_dir)

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


def plot_flood(r: dict[str, Any], out_dir: Path) -> None:
    """Records cleared over time: the tracer's group and the plain consumer on the flood, and the tracer on
    the hot venue's day, each from its own start; with what waits in the tracer's inboxes, and the instant
    every stage's work was done."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    flood, hot = r["flood"], r["hot_venue"]
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    panels = (
        (axes[0], flood["tracer"], f"tracer flood: {flood['records']:,} check-ins on checkins.v1, ingest idle"),
        (axes[1], hot["tracer"], f"hot venue: one venue's {hot['visits']:,} visits in a day, ingest idle"),
    )
    for ax, cleared, title in panels:
        pts = cleared["series"]
        ax.plot(
            [p[0] for p in pts],
            [p[1] for p in pts],
            color="tab:blue",
            label="tracer: check-ins committed on checkins.v1",
        )
        inboxes = ("person inbox", "venue inbox") if pts and len(pts[0]) == 4 else ("inboxes",)
        for i, (name, color) in enumerate(zip(inboxes, ("tab:orange", "tab:purple"), strict=False)):
            ax.plot(
                [p[0] for p in pts],
                [p[2 + i] for p in pts],
                color=color,
                linestyle="--",
                linewidth=1,
                label=f"tracer: records waiting in its {name}",
            )
        if cleared["seconds"] is not None:
            ax.axvline(cleared["seconds"], color="tab:green", linewidth=1)
            ax.text(
                cleared["seconds"],
                cleared["records"] * 0.5,
                f"every stage's work done:\n{_fmt(cleared['per_s'])} check-ins/s ",
                fontsize=8,
                color="tab:green",
                ha="right",
            )
        ax.axhline(cleared["records"], color="grey", linewidth=0.8, linestyle=":")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("seconds since the first record was written")
        ax.set_ylabel("records")
        ax.grid(alpha=0.3)
    if flood["plain"]:
        plain = flood["plain"]["series"]
        axes[0].plot(
            [p[0] for p in plain],
            [p[1] for p in plain],
            color="tab:red",
            label=f"plain consumer, decode only, from its own start ({_fmt(flood['plain']['per_s'])}/s)",
        )
    for ax in axes:
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(out_dir / "flood.png", dpi=110)
    plt.close(fig)


def rerender(out_dir: Path) -> None:
    """Write the table and plots of a run again from its report.json (after a change to this module)."""
    write(json.loads((out_dir / "report.json").read_text("utf-8")), out_dir)


if __name__ == "__main__":
    import sys

    for arg in sys.argv[1:]:
        rerender(Path(arg))
