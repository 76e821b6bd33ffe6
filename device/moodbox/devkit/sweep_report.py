"""The sweep's tables and plot (:mod:`moodbox.devkit.sweep`): what ``moodbox bench --sweep`` prints and draws."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from moodbox.devkit.sweep import ABSENCES, CAMERAS, ROLL_DEG, SPLIT_NAMES, WITHIN

def _held(row) -> str:
    if row["held_passes_mean"] is None:
        return "-"
    return f"{row['held_cost_ms_median']}/{row['held_cost_ms_p90']}, {row['held_passes_mean']:g}"


def _percent(value) -> str:
    return "-" if value is None else f"{100 * value:.0f}"


def table(result: dict) -> str:
    """The sweep as a Markdown table (percentages), with the empty-frame line below it."""
    lines = ["| width px | CM3 m | found 0 / +-20 deg % | ticks to find med/max | held % | Haar 0 / +-20 % | "
             "acc 0 deg aligned / not % | acc +-20 deg aligned / not % | CPU ms med/p90 | passes med/p90 | "
             "once found: CPU ms med/p90, passes | Haar CPU ms |",
             "|" + "---|" * 12]
    for row in result["rows"]:
        ticks = ("-" if row["ticks_to_find_median"] is None
                 else f"{row['ticks_to_find_median']:g}/{row['ticks_to_find_max']}")
        lines.append(
            f"| {row['width_px']} | {row['cm3_distance_m']} | {_percent(row['found_upright'])} / "
            f"{_percent(row['found_rolled'])} | {ticks} | {_percent(row['held'])} | "
            f"{_percent(row['haar_upright'])} / {_percent(row['haar_rolled'])} | "
            f"{_percent(row['accuracy_upright'])} / {_percent(row['accuracy_upright_unaligned'])} | "
            f"{_percent(row['accuracy_rolled_aligned'])} / {_percent(row['accuracy_rolled_unaligned'])} | "
            f"{row['cost_ms_median']}/{row['cost_ms_p90']} | {row['passes_median']:g}/{row['passes_p90']:g} | "
            f"{_held(row)} | "
            f"{'-' if row['haar_cost_ms_median'] is None else row['haar_cost_ms_median']} |")
    empty = result["empty"]
    lines.append(f"\nEmpty frames: {empty['false_positive_frames']} of {empty['frames']} with a face found "
                 f"(Haar {empty['haar_false_positive_frames']} of {empty['haar_frames']}); cost with nobody in view "
                 f"CPU median {empty['cost_ms_median']} ms, p90 {empty['cost_ms_p90']} ms, {empty['passes_mean']} "
                 f"model passes per frame. "
                 f"{result['faces_per_width']} {SPLIT_NAMES[result.get('split', 'private')]} faces per width, "
                 f"each upright and rolled (Haar: the first "
                 f"{result['haar_faces_per_width']}); expression accuracy on the "
                 f"same faces as 48x48 originals: {_percent(result['native_48px_accuracy'])}%.")
    return "\n".join(lines)


PI4_RATIO = (9, 10)  # a Raspberry Pi 4 core is 9-10x slower than one core here on neural-network code
PASS_MS = 0.7  # a 128x128 BlazeFace pass on one core here, unloaded (docs: FIELD-NOTES), for load-free estimates


def view_table(result: dict) -> str:
    """The listener's view per width (upright and +-20 deg together) as a Markdown table."""
    absences = "/".join(str(away) for away in ABSENCES)
    lines = [f"| width px | still: ticks to find med/p90 | found within 1/2/3/5 ticks % | back after {absences} s: "
             f"within 2 ticks % | another seat: within 2/5 ticks % | turned-away head read % of ticks | "
             f"look-alike object read % of ticks |", "|" + "---|" * 7]
    for row in result["rows"]:
        view = row["view"]
        still, moved = view["still"], view["moved"]
        median = lambda cell: "-" if cell is None else f"{cell:g}"  # noqa: E731
        lines.append(
            f"| {row['width_px']} | {median(still['median'])}/{median(still['p90'])} | "
            + " / ".join(_percent(still[f"within_{n}"]) for n in WITHIN) + " | "
            + " / ".join(_percent(view["again"][str(away)]["within_2"]) for away in ABSENCES) + " | "
            + f"{_percent(moved['within_2'])} / {_percent(moved['within_5'])} | "
            + f"{_percent(view['turned_read'])} ({view['turned_ticks']}) | "
            + f"{_percent(view['object_read'])} ({view['object_ticks']}) |")
    return "\n".join(lines)


def _pooled(rows, cell, key: str, widths) -> tuple[float | None, int]:
    """A share pooled over ``widths``: (weighted mean of ``cell(row)[key]`` by its count, the count)."""
    cells = [cell(row) for row in rows if row["width_px"] in widths]
    cells = [c for c in cells if c["count"] and c[key] is not None]
    count = sum(c["count"] for c in cells)
    return (sum(c[key] * c["count"] for c in cells) / count if count else None), count


def targets(result: dict) -> str:
    """The issue's target rows from the sweep's figures (widths pooled, upright and +-20 deg together)."""
    rows = result["rows"]
    still = lambda row: row["view"]["still"]  # noqa: E731
    back = lambda row: row["view"]["again"]["3"]  # noqa: E731
    figures = []

    def share(label, cell, key, widths, goal):
        value, count = _pooled(rows, cell, key, widths)
        shown = "-" if value is None else f"{100 * value:.1f}%"
        figures.append(f"| {label} | {shown} (n={count}) | {goal} |")

    share("still listener at 32-48 px: found within 2 ticks", still, "within_2", (32, 40, 48), ">= 80%")
    share("still listener at 32-48 px: found within 3 ticks", still, "within_3", (32, 40, 48), ">= 95%")
    share("still listener at 24-28 px: found within 5 ticks", still, "within_5", (24, 28), ">= 80%")
    share(">= 64 px: found on the first tick", still, "within_1", (64, 96, 160), ">= 98%")
    share("back after a 3 s absence at the same seat (32-96 px): within 2 ticks", back, "within_2",
          (32, 40, 48, 64, 96), ">= 95%")
    read = sum(row["view"]["turned_read"] * row["view"]["turned_ticks"] + row["view"]["object_read"]
               * row["view"]["object_ticks"] for row in rows if row["view"]["turned_ticks"])
    ticks = sum(row["view"]["turned_ticks"] + row["view"]["object_ticks"] for row in rows)
    figures.append(f"| turned-away head or look-alike object in the face's place: ticks that yield a reading | "
                   f"{'-' if not ticks else f'{100 * read / ticks:.1f}%'} ({round(read)} of {ticks}) | <= 2% |")
    empty = result["empty"]
    figures.append(f"| empty frames with a face | {empty['false_positive_frames']} of {empty['frames']} | "
                   "<= 1 in 1,000 |")
    searching = empty["cost_ms_median"]
    figures.append(f"| CPU per tick, median: following / searching (1 thread) | "
                   f"{result['following_cost_ms_median']} / {searching} ms | <= 3 / <= 8 ms |")
    if "against_cost_ms_median" in empty:
        figures.append(f"| the same empty frames, the other finder (--against-finder) in turn: CPU median | "
                       f"{empty['against_cost_ms_median']} ms (ours {searching} ms, "
                       f"{searching / max(empty['against_cost_ms_median'], 1e-9):.2g}x) | |")
    low, high = (searching * ratio for ratio in PI4_RATIO)
    figures.append(f"| Pi 4 estimate of a searching tick ({PI4_RATIO[0]}-{PI4_RATIO[1]}x): one core at one look a "
                   f"second | {low:.3g}-{high:.3g} ms = {low / 10:.2g}-{high / 10:.2g}% | < 10% |")
    passes = empty["passes_mean"]
    low, high = (passes * PASS_MS * ratio for ratio in PI4_RATIO)
    figures.append(f"| Pi 4 estimate from passes: {passes} a searching tick x {PASS_MS} ms x {PI4_RATIO[0]}-"
                   f"{PI4_RATIO[1]} | {low:.0f}-{high:.0f} ms = {low / 10:.1f}-{high / 10:.1f}% | < 10% |")
    return "\n".join(["| figure | measured | must reach |", "|---|---|---|", *figures])


def plot(result: dict, path: Path) -> Path:
    """Detection rate, the listener's view (found within 1/2/5 ticks, back after 3 s within 2) and expression
    accuracy against face width, with the Camera Module 3 distance on top."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    widths = [row["width_px"] for row in rows]
    series = lambda key: [np.nan if row[key] is None else 100 * row[key] for row in rows]  # noqa: E731
    figure, (found, view, accuracy) = plt.subplots(1, 3, figsize=(17, 4.5))
    for key, label, style in (("found_upright", "ours, upright", "o-"), ("found_rolled", "ours, +-20 deg", "s-"),
                              ("haar_upright", "Haar, upright", "o--"), ("haar_rolled", "Haar, +-20 deg", "s--")):
        found.plot(widths, series(key), style, label=label)
    for key, label, style in (("accuracy_upright", "upright", "o-"),
                              ("accuracy_rolled_aligned", "+-20 deg, eyes aligned", "s-"),
                              ("accuracy_rolled_unaligned", "+-20 deg, not aligned", "s--")):
        accuracy.plot(widths, series(key), style, label=label)
    accuracy.axhline(100 * result["native_48px_accuracy"], color="gray", lw=1, label="48x48 originals")
    share = lambda cell, key: [np.nan if cell(row)[key] is None else 100 * cell(row)[key]  # noqa: E731
                               for row in rows]
    for ticks, style in ((1, "o-"), (2, "s-"), (5, "^-")):
        view.plot(widths, share(lambda row: row["view"]["still"], f"within_{ticks}"), style,
                  label=f"still: found within {ticks} tick{'s' if ticks > 1 else ''}")
    view.plot(widths, share(lambda row: row["view"]["again"]["3"], "within_2"), "d--",
              label="back after 3 s: within 2 ticks")
    for axes, title in ((found, f"listener found (within {result['max_ticks_to_find']} ticks)"),
                        (view, "the listener's view (one look a second)"),
                        (accuracy, "expression accuracy vs FER+ majority")):
        axes.set_xscale("log")
        axes.set_xticks(widths, [str(w) for w in widths])
        axes.minorticks_off()
        axes.set_xlabel("face width in a 640x480 frame (px)")
        axes.set_ylabel("%")
        axes.set_ylim(0, 101)
        axes.set_title(title)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
        top = axes.secondary_xaxis("top", functions=(lambda w: 80 / np.maximum(w, 1e-3),
                                                     lambda d: 80 / np.maximum(d, 1e-3)))
        top.set_xticks([80 / w for w in widths], [f"{80 / w:.1f}" for w in widths], fontsize=7)
        top.minorticks_off()
        top.set_xlabel("distance for a Camera Module 3 (m)")
    figure.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def coverage_table(result: dict, found_min=0.95, accuracy_drop=0.05) -> str:
    """Per Pi camera, how far away the listener is still found (>= ``found_min`` upright and rolled) and their
    expression still read (accuracy upright and rolled, eyes aligned, each within ``accuracy_drop`` of its own at
    48 px), from the sweep's rows."""
    rows = sorted(result["rows"], key=lambda row: -row["width_px"])
    poses = ("accuracy_upright", "accuracy_rolled_aligned")
    reference = next((row for row in rows if row["width_px"] == 48), None)

    def down_to(good) -> int | None:
        """The smallest width reached from the largest one with every width in between good."""
        smallest = None
        for row in rows:
            if not good(row):
                break
            smallest = row["width_px"]
        return smallest

    def found_well(row) -> bool:
        return min(row["found_upright"] or 0, row["found_rolled"] or 0) >= found_min

    def read_well(row) -> bool:
        return reference is not None and all(
            row[pose] is not None and reference[pose] is not None and row[pose] >= reference[pose] - accuracy_drop
            for pose in poses)

    found = down_to(found_well)
    read = down_to(lambda row: found_well(row) and read_well(row))
    poses_named = f"upright and +-{ROLL_DEG} deg"
    lines = [f"| camera at 640x480 | listener found (>= {100 * found_min:.0f}%, {poses_named}) up to | expression "
             f"read ({poses_named}, within {100 * accuracy_drop:.0f} points of 48 px) up to |", "|---|---|---|"]
    for camera, metres_px in CAMERAS.items():
        cells = [f"{metres_px / width:.1f} m ({width} px face)" if width else "-" for width in (found, read)]
        lines.append(f"| {camera} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)
