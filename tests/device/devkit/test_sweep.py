"""moodbox bench --sweep on the real models and dataset: every figure present and in range, the PNG written."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from moodbox.devkit.bench import main
from moodbox.devkit.scenes import LookAlikes, face_patch, is_the_face, load_ferplus_faces
from moodbox.devkit.sweep import ABSENCES, HEADS, OBJECTS, run_sweep
from moodbox.devkit.sweep_report import coverage_table, table, targets, view_table
from moodbox.perception.boxes import Face


@pytest.fixture(scope="module")
def model(model_path):
    if not model_path.is_file():
        pytest.skip(f"{model_path} is absent: train one with training/ (moodbox-train pipeline)")
    return model_path


def test_ferplus_faces_follow_the_training_sides_majority_rule(data_dir):
    pixels, labels = load_ferplus_faces(data_dir)
    assert pixels.shape[1:] == (48, 48) and len(pixels) == len(labels) == 3372  # PrivateTest rows with a majority
    assert set(np.unique(labels)) <= set(range(7))


def test_publictest_faces_are_another_set(data_dir):
    public, public_labels = load_ferplus_faces(data_dir, "public")
    private, _ = load_ferplus_faces(data_dir)
    assert len(public) == len(public_labels) > 3000
    shared = {face.tobytes() for face in public[:200]} & {face.tobytes() for face in private}
    assert len(shared) < 10  # FER2013 has a few duplicate images across its splits


def test_rolled_patch_and_the_hit_rule():
    face = np.tile(np.arange(48, dtype=np.uint8) * 5, (48, 1))
    assert face_patch(face, 24, 0).shape == (24, 24) and face_patch(face, 96, 20).shape == (96, 96)
    assert not (face_patch(face, 96, 20) == face_patch(face, 96, 0)).all()
    assert is_the_face(Face(10, 10, 30, 30, 0.9), (25, 25), 32)
    assert not is_the_face(Face(10, 10, 30, 30, 0.9), (45, 25), 32)  # centre too far
    assert not is_the_face(Face(10, 10, 10, 10, 0.9), (15, 15), 32)  # far too small


def test_a_turned_face_is_as_sharp_as_an_upright_one_of_its_size(data_dir):
    """Turned at 48 px and then shrunk once, like a camera's one look at a tilted face (turning the shrunk patch
    kept about half its fine detail)."""
    faces, _ = load_ferplus_faces(data_dir, "public")

    def detail(patch):
        return cv2.Laplacian(patch.astype(np.float32), cv2.CV_32F)[8:-8, 8:-8].var()

    ratios = [detail(face_patch(face, 32, 20)) / detail(face_patch(face, 32, 0)) for face in faces[:50]]
    assert np.median(ratios) > 0.85


def test_sweep_rows_table_plot_and_coverage(model, data_dir, tmp_path):
    from moodbox.devkit.sweep_report import plot

    result = run_sweep(model, data_dir, faces=3, haar_faces=1, empty=20, haar_empty=2, sizes=(32, 96))
    assert [row["width_px"] for row in result["rows"]] == [32, 96]
    for row in result["rows"]:
        for key in ("found_upright", "found_rolled", "haar_upright", "haar_rolled"):
            assert 0 <= row[key] <= 1
        assert row["cost_ms_median"] > 0 and row["cost_ms_p90"] >= row["cost_ms_median"]
        assert row["passes_median"] >= 1
    assert result["rows"][1]["found_upright"] > 0  # a 96 px face is found: a finder that finds nothing fails here
    assert result["empty"]["frames"] == 20 and 0 <= result["empty"]["false_positive_frames"] <= 20
    assert 0 < result["native_48px_accuracy"] <= 1
    printed = table(result)
    assert printed.count("\n| 32 | 2.5 |") == 1 and "Empty frames:" in printed
    assert "Camera Module 3 Wide" in coverage_table(result)
    near = result["rows"][1]["view"]
    assert near["still"]["count"] == 6 and near["still"]["within_5"] > 0  # 3 faces, upright and turned
    assert set(near["again"]) == {str(away) for away in ABSENCES}
    assert near["turned_ticks"] > 0 and 0 <= near["turned_read"] <= 1 and 0 <= near["object_read"] <= 1
    assert result["following_cost_ms_median"] > 0
    view = view_table(result)
    assert view.count("\n| 96 | ") == 1 and "turned-away head" in view
    goals = targets(result)
    assert "found on the first tick" in goals and "Pi 4 estimate" in goals and "n=6" in goals
    png = plot(result, tmp_path / "sweep.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_coverage_reads_the_expression_only_as_far_as_both_poses_are_read_well():
    def row(width, upright, rolled):
        return {"width_px": width, "found_upright": 0.99, "found_rolled": 0.99,
                "accuracy_upright": upright, "accuracy_rolled_aligned": rolled}

    result = {"rows": [row(160, 0.86, 0.86), row(48, 0.85, 0.84), row(40, 0.84, 0.80), row(32, 0.83, 0.78)]}
    lines = coverage_table(result).splitlines()
    assert lines[2] == "| Camera Module 3 (66 deg) | 2.5 m (32 px face) | 2.0 m (40 px face) |"
    result["rows"][3]["found_rolled"] = 0.90
    lines = coverage_table(result).splitlines()
    assert lines[2] == "| Camera Module 3 (66 deg) | 2.0 m (40 px face) | 2.0 m (40 px face) |"


def test_empty_frames_see_a_fresh_pool_of_walls_every_pool_frames(monkeypatch):
    from moodbox.devkit import scenes, sweep
    from moodbox.perception.faces import FaceFinder

    pools = []
    monkeypatch.setattr(sweep, "POOL_FRAMES", 5)
    monkeypatch.setattr(scenes, "textured_background", lambda rng, width, height: pools.append(1) or
                        np.full((height, width), 128, np.uint8))
    scene = scenes.Scene(np.random.default_rng(0), pool=2)
    result = sweep._empty_frames(FaceFinder("blazeface"), FaceFinder("haar"), scene, 12, 1)
    assert result["frames"] == 12 and result["false_positive_frames"] == 0
    assert len(pools) == 2 * 3  # the first pool, then one at frame 5 and one at frame 10


def test_bench_sweep_command(model, data_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    png = tmp_path / "s.png"
    arguments = ["--sweep", "--model", str(model), "--dataset", str(data_dir), "--faces", "1", "--haar-faces", "0",
                 "--empty", "5", "--sizes", "40,160"]
    assert main(arguments + ["--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "| width px |" in out and "| 160 | 0.5 |" in out and "Camera Module 3 Wide" in out and str(png) in out
    assert "The listener's view:" in out and "| must reach |" in out
    assert png.is_file()
    assert main(arguments + ["--json"]) == 0
    assert [row["width_px"] for row in json.loads(capsys.readouterr().out)["rows"]] == [40, 160]
    assert (tmp_path / "cache" / "moodbox" / "face_sweep.png").is_file()  # no --plot: the cache folder
    assert not (tmp_path / "face_sweep.png").exists()


def test_bench_sweep_refuses_bad_counts(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--sweep", "--faces", "0"])
    assert exit_info.value.code == 2


@pytest.mark.parametrize("sizes", ["24,big", "4", "24,600"])
def test_bench_sweep_refuses_bad_sizes(capsys, sizes):
    with pytest.raises(SystemExit) as exit_info:
        main(["--sweep", "--sizes", sizes])
    assert exit_info.value.code == 2 and "--sizes" in capsys.readouterr().err


def test_look_alikes_are_pasted_by_their_mask_at_the_face_size(data_dir):
    faces, _ = load_ferplus_faces(data_dir, "public")
    lookalikes = LookAlikes(faces[:200], np.random.default_rng(0))
    assert 20 < lookalikes.hair_level < 120 and lookalikes.hair_contrast > 1  # dark, textured
    for kind in HEADS + OBJECTS:
        image, mask = lookalikes.patch(kind, faces[0], 40)
        assert image.shape == mask.shape == (40, 40) and 0 <= image.min() and image.max() <= 255
        assert 0 <= mask.min() and mask.max() == pytest.approx(1)
    _, oval = lookalikes.patch("back of head", faces[0], 40)
    assert oval[0, 0] == 0 and oval[20, 20] == 1  # an oval: the wall shows in the corners
    blurred, _ = lookalikes.patch("face blurred", faces[0], 48)
    assert cv2.Laplacian(blurred, cv2.CV_32F)[16:32, 16:32].var() < \
        cv2.Laplacian(faces[0].astype(np.float32), cv2.CV_32F)[16:32, 16:32].var() / 4  # no features left
    with pytest.raises(ValueError, match="look-alike"):
        lookalikes.make("teapot", faces[0])
