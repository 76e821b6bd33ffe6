"""The model card's measured block is rewritten from the JSON, and only that block."""

import json

from moodbox_training import card


def test_update_rewrites_only_the_measured_block(tmp_path, model_path):
    report = json.loads(model_path.with_suffix(".json").read_text())
    readme = tmp_path / "README.md"
    readme.write_text(f"# card\nprose before\n{card.START}\nstale numbers\n{card.END}\nprose after\n")
    assert card.update(readme, report)
    text = readme.read_text()
    assert "stale numbers" not in text
    assert text.startswith("# card\nprose before\n") and text.endswith("prose after\n")
    accuracy = 100 * report["metrics"]["int8"]["ferplus"]["accuracy"]
    assert f"| accuracy vs FER+ majority labels | {accuracy:.2f}% |" in text
    for label in report["labels"]:
        assert f"\n| {label} | " in text


def test_a_card_without_markers_is_left_alone(tmp_path, model_path):
    report = json.loads(model_path.with_suffix(".json").read_text())
    readme = tmp_path / "README.md"
    readme.write_text("# hand-written only\n")
    assert not card.update(readme, report)
    assert readme.read_text() == "# hand-written only\n"


def test_the_degraded_and_posed_figures_are_rendered_when_measured(model_path):
    report = json.loads(model_path.with_suffix(".json").read_text())
    report["metrics"]["degraded"] = {"dim": 0.65, "blur_sigma_px": 0.6, "noise_sigma": 7.0, "labels": "FER+ majority",
                                     "int8": {"clean_48": 0.86, "degraded_48": 0.84, "degraded_32": 0.82,
                                              "degraded_24": 0.75},
                                     "baseline_fer_package": {"clean_48": 0.65, "degraded_48": 0.6,
                                                              "degraded_32": 0.58, "degraded_24": 0.5}}
    recall = {label: 0.5 for label in report["labels"]}
    report["metrics"]["posed_folds"] = {
        "folds": [{"actors": ["P01", "P02"]}, {"actors": ["P03"]}],
        "int8": {"balanced_accuracy": 0.6, "recall": {**recall, "angry": 0.71}, "rows": 120},
        "baseline_fer_package": {"balanced_accuracy": 0.55, "recall": recall, "rows": 120}}
    text = card.render(report)
    assert "| 32 px, dim + blur + noise | 82.00% | 58.00% |" in text and "denoise" not in text
    report["metrics"]["degraded"]["denoise"] = {"filter": "bilateral", "diameter": 5, "sigma_color": 20,
                                                "sigma_space": 1.5, "min_noise": 6.2}
    assert "the device's denoise: a bilateral filter (5 px, sigma 20 grey levels / 1.5 px) on a face whose camera " \
           "pixels are noisy (6.2 grey levels or more)" in card.render(report)
    assert "| clean 48 px | 86.00% | 65.00% |" in text
    assert "Taiwanese actors (3 actors, 120 faces" in text and "2 actor-grouped folds" in text
    assert "| balanced accuracy | 60.00% | 55.00% |" in text and "| recall angry | 0.71 | 0.50 |" in text
    del report["metrics"]["degraded"], report["metrics"]["posed_folds"]
    assert "dim + blur" not in card.render(report) and "Taiwanese" not in card.render(report)
