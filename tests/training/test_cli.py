"""The whole pipeline end to end on a small slice: train (and resume), export, convert, evaluate."""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.training]

LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def _command(*args, data_dir):
    return [sys.executable, "-m", "moodbox_training.cli", *args, "--data", str(data_dir)]


def _train_cli(*args, data_dir):
    return subprocess.run(_command(*args, data_dir=data_dir), capture_output=True, text=True, timeout=600, env=ENV)


def _kill_after_first_epoch(command, history):
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if history.is_file() and len(history.read_text().strip().splitlines()) >= 2:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the first run ended before it could be interrupted"


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, data_dir):
    """A 2-epoch pipeline killed after epoch 1, then rerun: it must resume, convert and evaluate."""
    run_dir = tmp_path_factory.mktemp("run")
    model = run_dir / "out" / "emotion.tflite"
    model.parent.mkdir()
    args = ["pipeline", "--run-dir", str(run_dir), "--limit", "512", "--batch-size", "64", "--width", "8",
            "--epochs", "2", "--model", str(model), "--min-agreement", "0"]
    _kill_after_first_epoch(_command(*args, data_dir=data_dir), run_dir / "history.csv")
    rerun = _train_cli(*args, data_dir=data_dir)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    return run_dir, model, rerun.stdout + rerun.stderr


def test_interrupted_training_resumes_from_the_checkpoint(smoke_run):
    run_dir, _, log = smoke_run
    history = (run_dir / "history.csv").read_text().strip().splitlines()
    assert [line.split(",")[0] for line in history[1:]] == ["0", "1"]  # epoch 1 killed run, epoch 2 rerun
    assert "resuming after epoch 1" in log
    assert "epoch 1/2:" not in log and "epoch 2/2:" in log


def test_export_reproduces_the_trained_network_and_records_the_logit_adjustment(smoke_run):
    run_dir, _, _ = smoke_run
    record = json.loads((run_dir / "export.json").read_text())
    assert record["port_max_abs_difference"] <= 1e-4
    adjustment = record["logit_adjustment"]
    best_f1 = max(c["public_ferplus_macro_f1"] for c in adjustment["candidates"])
    assert adjustment["chosen"]["public_ferplus_macro_f1"] == best_f1
    assert {c["tau"] for c in adjustment["candidates"]} >= {0.0, 1.0}
    assert sum(adjustment["prior"]) == pytest.approx(1.0)


def test_evaluation_writes_the_model_contract(smoke_run, repo_root):
    from moodbox_training.scoring import DENOISE

    run_dir, model, _ = smoke_run
    report = json.loads(model.with_suffix(".json").read_text())
    assert report["labels"] == LABELS
    assert report["input"] == {"height": 48, "width": 48, "channels": 1, "layout": "NHWC", "dtype": "int8",
                               "pixel_range": [0, 255]}
    metrics = report["metrics"]
    for name in ("fer2013", "ferplus"):
        scores = metrics["int8"][name]
        assert 0.0 <= scores["accuracy"] <= 1.0 and 0.0 <= scores["macro_f1"] <= 1.0
        assert np.array(scores["confusion"]).shape == (7, 7)
        assert sum(map(sum, scores["confusion"])) == scores["rows"]
        assert 0.0 <= metrics["baseline_fer_package"][name]["accuracy"] <= 1.0
    assert metrics["int8"]["fer2013"]["rows"] == 3589 and metrics["int8"]["ferplus"]["rows"] == 3372
    assert 0.0 <= metrics["int8_float_top1_agreement"] <= 1.0
    assert report["face_crop"]["denoise"] == metrics["degraded"]["denoise"] == DENOISE
    assert metrics["latency_ms_median_1_thread"] > 0 and metrics["model_bytes"] == model.stat().st_size
    assert len(report["datasets"]["sha256"]["fer2013.npz"]) == 64
    assert report["command"].startswith("moodbox-train pipeline")
    assert report["tflite_sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    labels = "\n".join(report["labels"]).encode()
    assert report["labels_sha256"] == hashlib.sha256(model.read_bytes() + labels).hexdigest()
    assert report["training"]["commands"][0].startswith("moodbox-train pipeline")
    for figure in report["figures"].values():
        assert (model.parent / figure).stat().st_size > 1000


@pytest.fixture(scope="module")
def ensemble_run(smoke_run, tmp_path_factory, data_dir):
    """The smoke run's network paired with itself: export, convert and evaluate an ensemble."""
    run_dir, single_model, _ = smoke_run
    ensemble_dir = tmp_path_factory.mktemp("ensemble") / "run"
    shutil.copytree(run_dir, ensemble_dir)
    model = ensemble_dir / "out" / "emotion.tflite"
    for args in (["export", "--ensemble-with", str(run_dir / "best_ema.pt")],
                 ["convert", "--model", str(model), "--min-agreement", "0"],
                 ["evaluate", "--model", str(model), "--no-baseline"]):
        result = _train_cli(args[0], "--run-dir", str(ensemble_dir), *args[1:], data_dir=data_dir)
        assert result.returncode == 0, result.stderr[-3000:]
    return ensemble_dir, model, single_model


def test_an_ensemble_looks_at_the_mirror_image_itself_and_is_run_once(ensemble_run):
    ensemble_dir, model, single_model = ensemble_run
    record = json.loads((ensemble_dir / "export.json").read_text())
    assert record["port_max_abs_difference"] <= 1e-4
    assert [member["sees_mirror_image"] for member in record["members"]] == [False, True]
    assert record["sees_mirror_image"]
    report = json.loads(model.with_suffix(".json").read_text())
    assert report["face_crop"]["mirror_average"] is False  # two networks in one pass: no second pass
    assert report["metrics"]["mirror_average"]["model_sees_mirror_image"]
    member = report["training"]["ensemble_members"][0]
    assert member["commands"][0].startswith("moodbox-train pipeline")
    assert model.stat().st_size > 1.5 * single_model.stat().st_size  # both networks are in the file


def test_a_distilled_student_records_its_teachers(smoke_run, tmp_path, data_dir):
    """Distillation from the smoke run's network (by its run folder) and from a copy of it that stands for
    committed weights (a folder of weights with the record beside them)."""
    run_dir, _, _ = smoke_run
    committed = tmp_path / "weights" / "teacher.pt"
    committed.parent.mkdir()
    shutil.copy(run_dir / "best_ema.pt", committed)
    committed.with_suffix(".json").write_text(json.dumps({"commands": ["moodbox-train train --the-teacher"]}))
    student = tmp_path / "student"
    model = tmp_path / "out" / "emotion.tflite"
    model.parent.mkdir()
    result = _train_cli("pipeline", "--run-dir", str(student), "--limit", "256", "--batch-size", "64", "--width", "8",
                        "--epochs", "1", "--teachers", f"{run_dir / 'best_ema.pt'},{committed}", "--model", str(model),
                        "--min-agreement", "0", "--no-baseline", data_dir=data_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "distilling from 2 teacher(s)" in result.stderr
    teachers = json.loads(model.with_suffix(".json").read_text())["training"]["teachers"]
    assert teachers[0]["commands"][0].startswith("moodbox-train pipeline")  # from the teacher's run folder
    assert teachers[1]["commands"] == ["moodbox-train train --the-teacher"]
    assert teachers[1]["sha256"] == hashlib.sha256(committed.read_bytes()).hexdigest()


def test_a_missing_teacher_is_one_clear_error(tmp_path, data_dir):
    result = _train_cli("train", "--run-dir", str(tmp_path / "run"), "--limit", "64", "--epochs", "1",
                        "--teachers", str(tmp_path / "absent.pt"), data_dir=data_dir)
    assert result.returncode == 2 and "absent.pt is not a file" in result.stderr


def test_conversion_below_the_agreement_gate_writes_nothing(smoke_run, data_dir, tmp_path):
    run_dir, _, _ = smoke_run
    model = tmp_path / "emotion.tflite"
    result = _train_cli("convert", "--run-dir", str(run_dir), "--model", str(model), "--min-agreement", "1.01",
                        data_dir=data_dir)
    assert result.returncode == 2
    assert "not writing" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_missing_dataset_is_one_clear_error(tmp_path):
    result = _train_cli("train", "--run-dir", str(tmp_path / "run"), data_dir=tmp_path / "absent")
    assert result.returncode == 2
    assert "fer2013.npz not found" in result.stderr
    assert "Traceback" not in result.stderr
