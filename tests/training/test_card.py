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
