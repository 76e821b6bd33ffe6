"""The training network and its augmentation (PyTorch, on the CPU)."""

import numpy as np
import pytest
from moodbox.perception.crop import noise_level

torch = pytest.importorskip("torch")

from moodbox_training.scoring import DENOISE  # noqa: E402
from moodbox_training.torch_train import _low_resolution, augment, build, degrade, distillation_loss  # noqa: E402

pytestmark = pytest.mark.training


def faces(n=16, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 48, 48, generator=generator) * 255


def test_low_resolution_copies_lose_detail_and_keep_the_rest():
    torch.manual_seed(0)
    images = faces(64)
    blurred = _low_resolution(images, share=0.5, min_px=20)
    changed = (blurred != images).flatten(1).any(dim=1)
    assert 10 < int(changed.sum()) < 54  # about half the batch
    # a shrunk and enlarged face is smoother: less difference between neighbouring pixels
    roughness = lambda x: (x[..., 1:] - x[..., :-1]).abs().mean()  # noqa: E731
    assert roughness(blurred[changed]) < 0.8 * roughness(images[changed])
    assert torch.equal(blurred[~changed], images[~changed])
    assert blurred.min() >= 0 and blurred.max() <= 255


def test_device_degradation_changes_about_its_share_and_keeps_the_pixel_range():
    torch.manual_seed(2)
    images = torch.full((200, 1, 48, 48), 128.0)
    images[:, :, :, 24:] = 220.0  # an edge that blur and shrinking soften
    out = degrade(images, share=0.3)
    changed = (out != images).flatten(1).any(dim=1)
    assert 35 < int(changed.sum()) < 85
    assert torch.equal(out[~changed], images[~changed])
    assert out.min() >= 0 and out.max() <= 255
    assert out[changed].mean() < images[changed].mean()  # gain below one and gamma above one on average darken


def test_degraded_faces_are_smoothed_as_the_device_smooths_a_noisy_face_and_clean_ones_are_left():
    images = torch.full((200, 1, 48, 48), 128.0)
    images[:, :, :, 24:] = 220.0
    torch.manual_seed(3)
    raw = degrade(images, share=1.0).round()
    torch.manual_seed(3)  # the same draws: smoothing takes no random numbers
    read = degrade(images, share=1.0, denoise=DENOISE)
    smoothed = (read != raw).flatten(1).any(dim=1)
    assert 20 < int(smoothed.sum()) < 180  # noise of sigma 0-10 per face: some reach min_noise, some do not
    as_uint8 = lambda x: x[:, 0].numpy().astype(np.uint8)  # noqa: E731
    noise = lambda x: np.mean([noise_level(face) for face in as_uint8(x)])  # noqa: E731
    assert noise(read[smoothed]) < 0.6 * noise(raw[smoothed])
    assert torch.equal(read[~smoothed], raw[~smoothed])


def test_augment_keeps_the_batch_shape_and_pixel_range():
    torch.manual_seed(1)
    out = augment(faces(), max_rotation_deg=20, low_resolution_share=0.35, low_resolution_min_px=20,
                  degrade_share=0.5)
    assert out.shape == (16, 1, 48, 48)
    assert out.min() >= 0 and out.max() <= 255


def test_network_gives_seven_logits_per_face():
    model = build(width=4).eval()
    assert model(faces(3)).shape == (3, 7)


def test_distillation_pulls_the_student_towards_the_teachers_mean():
    teachers = [torch.tensor([[2.0, 0, 0, 0, 0, 0, 0]]), torch.tensor([[0.0, 2, 0, 0, 0, 0, 0]])]
    agreeing = torch.tensor([[1.0, 1, 0, 0, 0, 0, 0]])  # splits the difference between the two teachers
    student = torch.zeros(1, 7, requires_grad=True)
    loss = distillation_loss(student, teachers, temperature=2.0)
    assert float(loss) > 0
    loss.backward()
    # the gradient raises the two classes the teachers favour and lowers the rest
    assert (student.grad[0, :2] < 0).all() and (student.grad[0, 2:] > 0).all()
    assert float(distillation_loss(teachers[0], teachers[:1], temperature=2.0)) == pytest.approx(0, abs=1e-6)
    assert float(distillation_loss(agreeing, teachers, 2.0)) < float(distillation_loss(teachers[0], teachers, 2.0))


def test_a_run_resumes_under_settings_added_since_it_started_but_not_under_changed_ones(tmp_path):
    import json
    from dataclasses import asdict, replace

    from moodbox_training.torch_train import CONFIG, TorchTrainConfig, _check_config

    config = TorchTrainConfig(width=24, epochs=150)
    older = {key: value for key, value in asdict(config).items() if key not in ("teachers", "distill_weight")}
    (tmp_path / CONFIG).write_text(json.dumps(older))  # written before those settings existed
    _check_config(tmp_path, config)
    _check_config(tmp_path, replace(config, threads=2))  # speed only: resumes
    with pytest.raises(SystemExit, match="different settings .*: epochs"):
        _check_config(tmp_path, replace(config, epochs=100))


@pytest.mark.parametrize("freeze", [True, False])
def test_a_fine_tune_with_frozen_bn_statistics_keeps_those_of_its_warm_start(tmp_path, freeze):
    """Batches of degraded and posed faces move BN statistics (vgg24.pt re-estimated on them lost 1.6 points of
    clean PublicTest FER+ with no weight changed); with freeze_bn_stats the fine-tune keeps the warm start's."""
    from test_wise import network, save_run, tiny_sets

    from moodbox_training.torch_train import BEST, TorchTrainConfig, train

    fer, posed = tiny_sets(["P01", "P02"])
    base = save_run(tmp_path / "base", network(0)) / BEST
    config = TorchTrainConfig(width=4, epochs=1, batch_size=8, learning_rate=0.01, init_from=str(base),
                              posed_share=0.25, posed_holdout="P02", degrade_share=0.5, select="last",
                              freeze_bn_stats=freeze, bf16=False)
    tuned = torch.load(train(fer, tmp_path / "tuned", config, posed=posed), weights_only=False)["model"]
    start = torch.load(base, weights_only=False)["model"]
    statistics = [key for key in start if key.endswith(("running_mean", "running_var"))]
    weights = [key for key in start if key.endswith("weight")]
    assert statistics and weights
    assert all(torch.equal(tuned[key], start[key]) for key in statistics) == freeze
    assert not all(torch.equal(tuned[key], start[key]) for key in weights)  # the weights did train
