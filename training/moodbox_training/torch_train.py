"""PyTorch training of the plain-VGG expression network: the recipe that buys the most accuracy per CPU-hour.

Measured on a 2-core AVX-512 CPU (``moodbox-train throughput``): plain 3x3 convolutions in channels-last
layout with bfloat16 autocast run 3x faster than the Keras separable network, so training happens here and
``export`` copies the weights into an identical Keras model for TensorFlow's int8 converter.

Recipe: FER+ vote distributions as soft targets (a little FER2013 one-hot mixed in), batched on-tensor
augmentation (affine, flip, brightness/contrast, random erasing), SGD with Nesterov momentum and a cosine
schedule, an exponential moving average (EMA) of the weights, and checkpoint selection on PublicTest
(FER+ majority accuracy, mirror-averaged like the device). Every epoch writes ``last.pt`` (weights,
optimizer, EMA, RNG state) so that rerunning the same command resumes; ``best_ema.pt`` holds the selected
EMA weights only. A CUDA GPU is used when present.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .data import LABELS, FerData, soft_targets
from .scoring import DENOISE

log = logging.getLogger(__name__)

LAST = "last.pt"
BEST = "best_ema.pt"
HISTORY = "history.csv"
CONFIG = "train_config.json"
BEST_SCORE = "best_score.json"


def _setting(default, help_text: str):
    return field(default=default, metadata={"help": help_text})


@dataclass(frozen=True)
class TorchTrainConfig:
    width: int = _setting(16, "channels of the first of the four stages; the stages have w, 2w, 4w, 8w")
    convs_per_stage: int = _setting(2, "3x3 conv + BN + ReLU layers per stage")
    epochs: int = _setting(90, "epochs of the cosine schedule (a resumed run keeps the schedule)")
    batch_size: int = _setting(128, "images per step")
    learning_rate: float = _setting(0.05, "peak SGD learning rate, after a warm-up of 2 epochs")
    weight_decay: float = _setting(5e-4, "L2 weight decay")
    ferplus_weight: float = _setting(0.85, "share of each target taken from the FER+ vote distribution; "
                                           "the rest is the FER2013 one-hot label")
    label_smoothing: float = _setting(0.0, "label smoothing of the cross-entropy")
    ema_decay: float = _setting(0.999, "decay of the exponential moving average of the weights (what is kept)")
    dropout: float = _setting(0.3, "dropout before the final layer")
    max_rotation_deg: float = _setting(20.0, "largest random rotation of the augmentation")
    low_resolution_share: float = _setting(0.0, "share of each batch shrunk to a random face width (see "
                                                "low_resolution_min_px) and enlarged back, as the device "
                                                "enlarges the crop of a distant face")
    low_resolution_min_px: int = _setting(20, "smallest face width of that shrinking")
    seed: int = _setting(1234, "seed of every random choice")
    threads: int = _setting(1, "CPU threads (1 is fastest on a loaded 2-core machine)")
    bf16: bool = _setting(True, "bfloat16 autocast on CPUs with AVX512-BF16/AMX (ignored elsewhere)")
    limit: int = _setting(0, "use only this many training faces (smoke runs); 0 = all")
    init_from: str = _setting("", "warm start from these weights (a best_ema.pt of an earlier run, e.g. the "
                                  "committed training/weights/*.pt)")
    teachers: str = _setting("", "knowledge distillation: comma-separated weights (best_ema.pt or "
                                 "training/weights/*.pt) whose averaged predictions on each augmented batch "
                                 "are learnt besides the labels")
    distill_weight: float = _setting(0.5, "share of the loss taken from the teachers (with --teachers)")
    distill_temperature: float = _setting(2.0, "softmax temperature of teachers and student in that share")
    posed_share: float = _setting(0.0, "share of each batch drawn from the posed actors' set (taiwan_actors), "
                                       "class-balanced; 0 = FER2013 only")
    posed_holdout: str = _setting("", "comma-separated actor ids left out of training (an actor-grouped "
                                      "validation fold, scored every epoch)")
    posed_label_weight: float = _setting(0.7, "share of a posed face's target taken from its performed "
                                              "expression; the rest is its observers' ratings")
    degrade_share: float = _setting(0.0, "share of each batch given the device's degradations (gain/gamma, "
                                         "blur, shrink to 20-48 px, sensor noise, enlarged back)")
    degrade_denoise: bool = _setting(False, "the degraded faces then smoothed as the device smooths a noisy face "
                                            "(scoring.DENOISE, judged on the shrunk face's pixels), so that the "
                                            "network learns the faces it will be shown")
    epoch_images: int = _setting(0, "FER2013 training faces per epoch (short fine-tunes); 0 = all")
    freeze_bn_stats: bool = _setting(False, "keep the warm start's BatchNorm statistics (BN layers stay in eval mode "
                                            "while the weights train): batches of degraded and posed faces move them, "
                                            "which alone costs clean FER+ accuracy")
    select: str = _setting("public", "which EMA weights are kept: 'public' (best PublicTest FER+ accuracy) or "
                                     "'last' (the final epoch; fine-tunes, so that no held-out face chooses)")


def build(width: int, convs_per_stage: int = 2, dropout: float = 0.3):
    """Four stages of ``convs_per_stage`` x (3x3 conv, BN, ReLU) then 2x2 max-pool; GAP; dropout; linear.

    Input is the raw 0-255 face crop (N, 1, 48, 48); ``export.to_keras`` builds the same network in Keras.
    """
    import torch
    from torch import nn

    class ExpressionNet(nn.Module):
        def __init__(self):
            super().__init__()
            layers, channels = [], 1
            for stage in range(4):
                out = width * 2 ** stage
                for _ in range(convs_per_stage):
                    layers += [nn.Conv2d(channels, out, 3, padding=1, bias=False), nn.BatchNorm2d(out),
                               nn.ReLU(inplace=True)]
                    channels = out
                layers.append(nn.MaxPool2d(2))
            self.features = nn.Sequential(*layers)
            self.dropout = nn.Dropout(dropout)
            self.classifier = nn.Linear(channels, len(LABELS))

        def forward(self, pixels):
            x = self.features(pixels / 127.5 - 1.0)
            return self.classifier(self.dropout(torch.flatten(x.mean(dim=(2, 3), keepdim=True), 1)))

    return ExpressionNet()


def augment(images, max_rotation_deg: float, low_resolution_share: float = 0.0, low_resolution_min_px: int = 20,
            degrade_share: float = 0.0, denoise: dict | None = None):
    """One random affine per image (rotation, zoom 0.85-1.15, shift 8%, mirror), brightness/contrast
    jitter, optional low-resolution copies, optional device degradations and random erasing, on a batch
    (N, 1, H, W) of 0-255 floats."""
    import torch
    import torch.nn.functional as F

    n, device = images.shape[0], images.device
    uniform = lambda low, high: torch.empty(n, device=device).uniform_(low, high)  # noqa: E731
    angle = uniform(-math.radians(max_rotation_deg), math.radians(max_rotation_deg))
    zoom = uniform(0.85, 1.15)
    flip = torch.where(torch.rand(n, device=device) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos * flip, -sin, uniform(-0.16, 0.16)], 1),
                         torch.stack([sin * flip, cos, uniform(-0.16, 0.16)], 1)], 1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    images = F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    images = ((images - mean) * uniform(0.7, 1.3)[:, None, None, None] + mean
              + uniform(-30, 30)[:, None, None, None]).clamp(0, 255)
    if low_resolution_share > 0:
        images = _low_resolution(images, low_resolution_share, low_resolution_min_px)
    if degrade_share > 0:
        images = degrade(images, degrade_share, denoise=denoise)
    return _random_erase(images)


def degrade(images, share: float, min_px: int = 20, denoise: dict | None = None):
    """What the box's camera does to a face, on a random ``share`` of the batch: gain 0.45-1.15 and gamma
    0.7-1.5 (dim rooms, auto-exposure), Gaussian blur of sigma 0-1.2 px (focus, motion), then the face shrunk to
    one random width in [min_px, 48] (area average), sensor noise of sigma 0-10 at that size, and enlarged back
    (bicubic, as the device enlarges a small crop). With ``denoise`` (``face_crop.denoise`` of the model JSON),
    then what the device does before the model reads such a face: in uint8, smoothed when the shrunk face's
    pixels (the camera's) are noisy (``moodbox.perception.crop.denoised``)."""
    import torch
    import torch.nn.functional as F

    n, _, h, w = images.shape
    device = images.device
    chosen = torch.rand(n, device=device) < share
    count = int(chosen.sum())
    if count == 0:
        return images
    x = images[chosen]
    uniform = lambda low, high: torch.empty(count, 1, 1, 1, device=device).uniform_(low, high)  # noqa: E731
    x = 255.0 * (x / 255.0).clamp(0, 1) ** uniform(0.7, 1.5) * uniform(0.45, 1.15)
    sigma = uniform(0.0, 1.2).clamp(min=1e-3).view(count, 1, 1)
    offsets = torch.arange(-2, 3, device=device, dtype=x.dtype)
    line = torch.exp(-offsets[None, None, :] ** 2 / (2 * sigma ** 2))
    line = line / line.sum(dim=2, keepdim=True)
    kernels = (line.transpose(1, 2) @ line)[:, None]  # (count, 1, 5, 5), one separable Gaussian per face
    x = F.conv2d(F.pad(x.reshape(1, count, h, w), (2, 2, 2, 2), mode="replicate"), kernels, groups=count)
    x = x.reshape(count, 1, h, w)
    size = int(torch.randint(min_px, h + 1, (1,)))
    small = F.interpolate(x, size=(size, size), mode="area") if size < h else x
    small = small + torch.randn_like(small) * uniform(0.0, 10.0)
    camera = small
    if size < h:
        small = F.interpolate(small, size=(h, w), mode="bicubic", align_corners=False)
    if denoise:
        small = _as_the_device_reads(small, camera, denoise)
    images = images.clone()
    images[chosen] = small.clamp(0, 255)
    return images


def _as_the_device_reads(faces, camera, denoise: dict):
    """``faces`` (N, 1, H, W floats) rounded to uint8 and smoothed per ``denoise`` where ``camera`` (the same
    faces at the camera's resolution) is noisy, as the device's crop is."""
    import torch
    from moodbox.perception.crop import denoised

    as_uint8 = lambda x: x.detach().clamp(0, 255).round().to(torch.uint8).cpu().numpy()[:, 0]  # noqa: E731
    read = np.stack([denoised(face, denoise, pixels) for face, pixels in zip(as_uint8(faces), as_uint8(camera))])
    return torch.from_numpy(read).to(device=faces.device, dtype=faces.dtype)[:, None]


def _low_resolution(images, share: float, min_px: int):
    """Shrinks a random ``share`` of the batch to one random width in [min_px, H) (area average) and enlarges
    it back (bilinear): what a face a few metres away looks like once the device has resized its crop."""
    import torch
    import torch.nn.functional as F

    n, _, h, w = images.shape
    chosen = torch.rand(n, device=images.device) < share
    if not bool(chosen.any()):
        return images
    size = int(torch.randint(min_px, h, (1,)))
    small = F.interpolate(images[chosen], size=(size, size), mode="area")
    images = images.clone()
    images[chosen] = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)
    return images


def _random_erase(images, probability: float = 0.5):
    import torch

    n, _, h, w = images.shape
    device = images.device
    area = torch.empty(n, device=device).uniform_(0.02, 0.2) * h * w
    aspect = torch.exp(torch.empty(n, device=device).uniform_(math.log(0.3), math.log(3.3)))
    eh = torch.sqrt(area * aspect).clamp(1, h)
    ew = torch.sqrt(area / aspect).clamp(1, w)
    top = torch.rand(n, device=device) * (h - eh)
    left = torch.rand(n, device=device) * (w - ew)
    ys = torch.arange(h, device=device)[None, :]
    xs = torch.arange(w, device=device)[None, :]
    rows = (ys >= top[:, None]) & (ys < (top + eh)[:, None])
    cols = (xs >= left[:, None]) & (xs < (left + ew)[:, None])
    mask = rows[:, :, None] & cols[:, None, :] & (torch.rand(n, device=device) < probability)[:, None, None]
    return torch.where(mask[:, None], torch.rand_like(images) * 255, images)


class Ema:
    """Exponential moving average of every float parameter and buffer (BN statistics included)."""

    def __init__(self, model, decay: float):
        import copy

        self.model = copy.deepcopy(model).eval()
        self.decay = decay
        for p in self.model.parameters():
            p.requires_grad_(False)

    def update(self, model, step: int) -> None:
        import torch

        decay = min(self.decay, (1 + step) / (10 + step))  # short warm-up so early epochs are not stale
        with torch.no_grad():
            for ema_value, value in zip(self.model.state_dict().values(), model.state_dict().values()):
                if ema_value.dtype.is_floating_point:
                    ema_value.mul_(decay).add_(value.detach(), alpha=1 - decay)
                else:
                    ema_value.copy_(value)


def logits_of_both_views(model, pixels: np.ndarray, device="cpu", batch: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Float logits for uint8 faces (N, 48, 48) and for their mirror images."""
    import torch

    model.eval()
    plain, mirrored = [], []
    with torch.no_grad():
        for start in range(0, len(pixels), batch):
            x = torch.from_numpy(pixels[start:start + batch].astype(np.float32)[:, None]).to(device)
            plain.append(model(x).float().cpu().numpy())
            mirrored.append(model(torch.flip(x, dims=[3])).float().cpu().numpy())
    return np.concatenate(plain), np.concatenate(mirrored)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def macro_f1(predicted: np.ndarray, truth: np.ndarray) -> float:
    confusion = np.zeros((len(LABELS), len(LABELS)))
    np.add.at(confusion, (truth, predicted), 1)
    tp = np.diag(confusion)
    precision = tp / np.maximum(confusion.sum(0), 1)
    recall = tp / np.maximum(confusion.sum(1), 1)
    return float((2 * precision * recall / np.maximum(precision + recall, 1e-12)).mean())


def public_scores(model, data: FerData, device) -> dict:
    rows = data.split("public")
    plain, mirrored = logits_of_both_views(model, data.pixels[rows], device)
    predicted = (softmax(plain) + softmax(mirrored)).argmax(1)  # mirror-averaged, as the device scores
    ferplus = data.ferplus_majority[rows]
    kept = ferplus >= 0
    return {"public_ferplus_acc": float((predicted[kept] == ferplus[kept]).mean()),
            "public_ferplus_macro_f1": macro_f1(predicted[kept], ferplus[kept]),
            "public_fer2013_acc": float((predicted == data.emotion[rows]).mean())}


def load_teachers(paths: str, device) -> list:
    """The frozen networks named in ``TorchTrainConfig.teachers``, ready for channels-last CPU inference."""
    import torch

    teachers = []
    for path in filter(None, (p.strip() for p in paths.split(","))):
        if not Path(path).is_file():
            raise FileNotFoundError(f"--teachers: {path} is not a file "
                                    "(give best_ema.pt files or training/weights/*.pt)")
        teacher, _ = load_weights(Path(path))
        teacher = teacher.to(device)
        if device.type == "cpu":
            teacher = teacher.to(memory_format=torch.channels_last)
        teachers.append(teacher)
    return teachers


def distillation_loss(student_logits, teacher_logits: list, temperature: float):
    """Hinton's soft-target loss: KL divergence from the teachers' averaged tempered softmax to the student's,
    scaled by T^2 so that its gradient keeps the size of the label loss's."""
    import torch
    import torch.nn.functional as F

    teacher_probs = torch.stack([F.softmax(t.float() / temperature, dim=1) for t in teacher_logits]).mean(0)
    student_log_probs = F.log_softmax(student_logits.float() / temperature, dim=1)
    return F.kl_div(student_log_probs, teacher_probs, reduction="batchmean") * temperature ** 2


def _device_and_precision(config: TorchTrainConfig):
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda"), torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    torch.set_num_threads(config.threads)
    cpu_flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    has_bf16 = "avx512_bf16" in cpu_flags or "amx_bf16" in cpu_flags
    return torch.device("cpu"), torch.bfloat16 if config.bf16 and has_bf16 else None


SPEED_ONLY = ("threads",)  # settings that change how fast a run goes, not what it learns


def _check_config(run_dir: Path, config: TorchTrainConfig) -> None:
    """Refuses to resume a run with other settings; a setting added since the run started counts as its default,
    and the thread count may change (e.g. two threads while the machine has nothing else to do)."""
    config_file = run_dir / CONFIG
    if config_file.exists():
        started = {**asdict(TorchTrainConfig()), **json.loads(config_file.read_text())}
        changed = [key for key, value in asdict(config).items() if started[key] != value and key not in SPEED_ONLY]
        if changed:
            raise SystemExit(f"{run_dir} holds a run with different settings ({config_file}: {', '.join(changed)}); "
                             "use another --run-dir or the same settings to resume")
    config_file.write_text(json.dumps(asdict(config), indent=2))


def holdout_actors(config: TorchTrainConfig) -> list[str]:
    return [actor.strip() for actor in config.posed_holdout.split(",") if actor.strip()]


def posed_scores(model, posed, actors: list[str], device) -> dict:
    """Balanced accuracy and per-class recall on the held-out actors (performed labels, mirror-averaged)."""
    from .posed import balanced_report

    rows = posed.rows_of(actors)
    plain, mirrored = logits_of_both_views(model, posed.pixels[rows], device)
    report = balanced_report((softmax(plain) + softmax(mirrored)).argmax(1), posed.emotion[rows].astype(np.int64))
    return {"posed_balanced_acc": report["balanced_accuracy"],
            **{f"posed_recall_{label}": value for label, value in report["recall"].items()}}


def train(data: FerData, run_dir: Path, config: TorchTrainConfig, posed=None) -> Path:
    """Train into ``run_dir``, resuming from its ``last.pt``; returns the path of the selected EMA weights.

    ``posed``: the actors' set (:class:`moodbox_training.posed.PosedData`), needed when ``posed_share`` > 0.
    """
    from .posed import balanced_weights, posed_targets

    import torch
    import torch.nn.functional as F
    from tqdm import tqdm

    run_dir.mkdir(parents=True, exist_ok=True)
    _check_config(run_dir, config)
    device, autocast_dtype = _device_and_precision(config)
    denoise = DENOISE if config.degrade_denoise else None
    log.info("training on %s, %s, %d thread(s)", device,
             f"{autocast_dtype} autocast" if autocast_dtype else "float32", torch.get_num_threads())
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)

    train_rows = data.split("train")
    if config.limit:
        train_rows = rng.choice(train_rows, config.limit, replace=False)
    images = torch.from_numpy(data.pixels[train_rows].astype(np.float32)[:, None])
    targets = torch.from_numpy(soft_targets(data, train_rows, config.ferplus_weight))
    if config.select not in ("public", "last"):
        raise SystemExit(f"--select {config.select!r}: use 'public' or 'last'")
    held_out = holdout_actors(config)
    posed_per_batch = round(config.batch_size * config.posed_share)
    if (posed_per_batch or held_out) and posed is None:
        raise SystemExit("--posed-share/--posed-holdout need the posed set (taiwan_actors.npz under --data)")
    if posed is not None and held_out:
        unknown = sorted(set(held_out) - set(posed.actors))
        if unknown:
            raise SystemExit(f"--posed-holdout: no actor {', '.join(unknown)} in the posed set ({posed.actors})")
    if posed_per_batch:
        posed_rows = posed.rows_without(held_out)
        posed_images = torch.from_numpy(posed.pixels[posed_rows].astype(np.float32)[:, None])
        posed_target = torch.from_numpy(posed_targets(posed, posed_rows, config.posed_label_weight))
        posed_probability = balanced_weights(posed.emotion[posed_rows])
        log.info("posed set: %d faces of %d actors in training (%d per batch, class-balanced); held out: %s",
                 len(posed_rows), len(set(posed.subject[posed_rows])), posed_per_batch, ",".join(held_out) or "none")
    fer_per_batch = config.batch_size - posed_per_batch
    epoch_images = min(config.epoch_images or len(train_rows), len(train_rows))
    steps_per_epoch = epoch_images // fer_per_batch
    total_steps = steps_per_epoch * config.epochs
    warmup = min(2 * steps_per_epoch, total_steps // 10)

    model = build(config.width, config.convs_per_stage, config.dropout).to(device)
    if config.init_from:
        model.load_state_dict(torch.load(config.init_from, map_location=device)["model"])
        log.info("warm start from %s", config.init_from)
    if device.type == "cpu":
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.learning_rate, momentum=0.9, nesterov=True,
                                weight_decay=config.weight_decay)
    ema = Ema(model, config.ema_decay)
    teachers = load_teachers(config.teachers, device)
    if teachers:
        log.info("distilling from %d teacher(s): %s (weight %.2f, temperature %.1f)", len(teachers),
                 config.teachers, config.distill_weight, config.distill_temperature)
    log.info("network: %d parameters, %d steps per epoch, %d epochs",
             sum(p.numel() for p in model.parameters()), steps_per_epoch, config.epochs)

    start_epoch, best = 0, -1.0
    if (run_dir / LAST).exists():
        state = torch.load(run_dir / LAST, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        ema.model.load_state_dict(state["ema"])
        torch.set_rng_state(state["torch_rng"])
        rng = state["numpy_rng"]
        start_epoch, best = state["epoch"], state["best"]
        log.info("resuming after epoch %d (best PublicTest FER+ %.4f)", start_epoch, best)

    def learning_rate(step: int) -> float:
        if step < warmup:
            return config.learning_rate * (step + 1) / warmup
        return 0.5 * config.learning_rate * (1 + math.cos(math.pi * (step - warmup) / max(1, total_steps - warmup)))

    for epoch in range(start_epoch, config.epochs):
        model.train()
        if config.freeze_bn_stats:
            for module in model.modules():
                if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                    module.eval()
        order = torch.from_numpy(rng.permutation(len(train_rows)))
        started, loss_sum, correct = time.perf_counter(), 0.0, 0
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{config.epochs}", leave=False, disable=None)
        for step_in_epoch in bar:
            step = epoch * steps_per_epoch + step_in_epoch
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step)
            batch = order[step_in_epoch * fer_per_batch:(step_in_epoch + 1) * fer_per_batch]
            x, y = images[batch], targets[batch]
            if posed_per_batch:
                picked = torch.from_numpy(rng.choice(len(posed_probability), posed_per_batch, p=posed_probability))
                x, y = torch.cat([x, posed_images[picked]]), torch.cat([y, posed_target[picked]])
            if teachers:  # the teachers see the FER2013 faces before the camera degrades them
                x = augment(x.to(device), config.max_rotation_deg, config.low_resolution_share,
                            config.low_resolution_min_px)
                teacher_x = x[:fer_per_batch].contiguous(memory_format=torch.channels_last)
                x = degrade(x, config.degrade_share, denoise=denoise) if config.degrade_share > 0 else x
            else:
                x = augment(x.to(device), config.max_rotation_deg, config.low_resolution_share,
                            config.low_resolution_min_px, config.degrade_share, denoise)
            if device.type == "cpu":
                x = x.contiguous(memory_format=torch.channels_last)
            y = y.to(device)
            with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
                logits = model(x)
                if teachers:
                    with torch.no_grad():
                        teacher_logits = [teacher(teacher_x) for teacher in teachers]
            loss = F.cross_entropy(logits.float(), y, label_smoothing=config.label_smoothing, reduction="none")
            if teachers:  # on the FER2013 rows, a share of the label loss goes to the teachers; posed rows keep theirs
                fer_loss = ((1 - config.distill_weight) * loss[:fer_per_batch].sum() + config.distill_weight
                            * fer_per_batch * distillation_loss(logits[:fer_per_batch], teacher_logits,
                                                                config.distill_temperature))
                loss = (fer_loss + loss[fer_per_batch:].sum()) / len(loss)
            else:
                loss = loss.mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            ema.update(model, step)
            loss_sum += float(loss.detach())
            correct += int((logits.argmax(1) == y.argmax(1)).sum())
            bar.set_postfix(loss=f"{loss_sum / (step_in_epoch + 1):.3f}")
        seconds = time.perf_counter() - started
        scores = public_scores(ema.model, data, device)
        if held_out:
            scores.update(posed_scores(ema.model, posed, held_out, device))
        row = {"epoch": epoch, "loss": loss_sum / steps_per_epoch,
               "train_acc": correct / (steps_per_epoch * config.batch_size), **scores,
               "seconds": seconds, "images_per_second": steps_per_epoch * config.batch_size / seconds,
               "learning_rate": learning_rate((epoch + 1) * steps_per_epoch - 1)}
        log.info("epoch %d/%d: loss %.4f, %.0f img/s; PublicTest (EMA, mirrored) FER+ %.4f, macro-F1 %.4f, "
                 "FER2013 %.4f", epoch + 1, config.epochs, row["loss"], row["images_per_second"],
                 scores["public_ferplus_acc"], scores["public_ferplus_macro_f1"], scores["public_fer2013_acc"])
        if held_out:
            log.info("held-out actors (EMA, mirrored): balanced accuracy %.4f; recall %s", scores["posed_balanced_acc"],
                     ", ".join(f"{k[13:]} {v:.2f}" for k, v in scores.items() if k.startswith("posed_recall_")))
        if scores["public_ferplus_acc"] > best or config.select == "last":
            best = max(best, scores["public_ferplus_acc"])
            save_atomically({"model": ema.model.state_dict(), "config": asdict(config), "epoch": epoch + 1},
                             run_dir / BEST)
            (run_dir / BEST_SCORE).write_text(json.dumps({"epoch": epoch + 1, **scores}, indent=2))
        save_atomically({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                          "ema": ema.model.state_dict(), "torch_rng": torch.get_rng_state(), "numpy_rng": rng,
                          "epoch": epoch + 1, "best": best}, run_dir / LAST)
        _append_history(run_dir / HISTORY, row)  # after the checkpoint: a history row means the epoch is saved
    return run_dir / BEST


def save_atomically(state: dict, path: Path) -> None:
    import torch

    partial = path.with_name(path.name + ".partial")
    torch.save(state, partial)
    os.replace(partial, path)


def _append_history(path: Path, row: dict) -> None:
    new = not path.exists()
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def interpolate(base, tuned, alpha: float):
    """WiSE-FT (Wortsman et al., CVPR 2022): a network whose every float weight and BN statistic is
    ``(1 - alpha) * base + alpha * tuned``, for a fine-tune ``tuned`` of ``base``. Between the two it keeps most
    of the base's accuracy on its own data and most of the fine-tune's gain on the new data."""
    import copy

    tuned_state = tuned.state_dict()
    mixed = {key: (1 - alpha) * value + alpha * tuned_state[key] if value.dtype.is_floating_point
             else tuned_state[key] for key, value in base.state_dict().items()}
    model = copy.deepcopy(tuned)
    model.load_state_dict(mixed)
    return model.eval()


def load_weights(path: Path):
    """The network and config saved in a ``best_ema.pt``, in eval mode on the CPU."""
    import torch

    state = torch.load(path, map_location="cpu", weights_only=False)
    config = TorchTrainConfig(**state["config"])
    model = build(config.width, config.convs_per_stage, config.dropout)
    model.load_state_dict(state["model"])
    return model.eval(), config

