"""Training throughput (images/second) of the setups worth choosing between on this machine.

Each setup runs the real training step (augmentation, forward, backward, optimizer) on random 48x48 faces
for a few warm-up steps, then times ``steps`` more. PyTorch and Keras run the same plain-VGG network, so the
figures compare frameworks, layouts, precisions, batch sizes and thread counts, not networks.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from .torch_train import augment, build

log = logging.getLogger(__name__)

WARMUP_STEPS = 3
RESULT = "throughput.json"


def _torch_setup(width: int, batch: int, threads: int, channels_last: bool, bf16: bool, steps: int) -> float:
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    model = build(width)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    images = torch.rand(batch, 1, 48, 48) * 255
    targets = torch.softmax(torch.randn(batch, 7), 1)
    for step in range(WARMUP_STEPS + steps):
        if step == WARMUP_STEPS:
            started = time.perf_counter()
        x = augment(images, 20.0)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return batch * steps / (time.perf_counter() - started)


def _keras_setup(width: int, batch: int, threads: int, bf16: bool, steps: int) -> float:
    import keras
    import tensorflow as tf

    from .export import to_keras
    from .torch_train import TorchTrainConfig

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TensorFlow already ran in this process (a test session): its thread pools are set
        log.warning("TensorFlow was already initialised in this process: Keras timed with its existing threads")
    keras.mixed_precision.set_global_policy("mixed_bfloat16" if bf16 else "float32")
    try:
        model = to_keras([(build(width).eval(), TorchTrainConfig(width=width))], np.zeros(7))
        model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True),
                      loss="categorical_crossentropy")
        images = np.random.default_rng(0).uniform(0, 255, (batch * (WARMUP_STEPS + steps), 48, 48, 1))
        targets = np.eye(7, dtype=np.float32)[np.arange(len(images)) % 7]
        model.fit(images[:batch * WARMUP_STEPS], targets[:batch * WARMUP_STEPS], batch_size=batch, verbose=0)
        started = time.perf_counter()
        model.fit(images[batch * WARMUP_STEPS:], targets[batch * WARMUP_STEPS:], batch_size=batch, verbose=0)
        return batch * steps / (time.perf_counter() - started)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def measure(out_dir: Path, width: int = 16, steps: int = 10) -> dict:
    """Time every setup; print a table; write ``throughput.json`` into ``out_dir``."""
    from tqdm import tqdm

    has_bf16 = "avx512_bf16" in Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else False
    setups = [("PyTorch", "NCHW", "fp32", 128, 1), ("PyTorch", "channels_last", "fp32", 128, 1)]
    if has_bf16:
        setups += [("PyTorch", "channels_last", "bf16 autocast", batch, threads)
                   for batch, threads in ((64, 1), (128, 1), (256, 1), (128, 2))]
    setups += [("Keras/TF", "NHWC", "fp32", 128, 1)]
    if has_bf16:
        setups += [("Keras/TF", "NHWC", "mixed_bfloat16", 128, 1)]
    results = []
    for framework, layout, precision, batch, threads in tqdm(setups, desc="setups", disable=None):
        bf16 = precision != "fp32"
        if framework == "PyTorch":
            rate = _torch_setup(width, batch, threads, layout == "channels_last", bf16, steps)
        else:
            rate = _keras_setup(width, batch, threads, bf16, steps)
        results.append({"framework": framework, "layout": layout, "precision": precision, "batch": batch,
                        "threads": threads, "images_per_second": round(rate, 1),
                        "seconds_per_28709_image_epoch": round(28709 / rate, 1)})
        log.info("%-9s %-13s %-14s batch %3d, %d thread(s): %6.0f img/s (%5.0f s per epoch)",
                 framework, layout, precision, batch, threads, rate, 28709 / rate)
    report = {"network": f"plain VGG w{width}", "steps_timed": steps, "setups": results}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / RESULT).write_text(json.dumps(report, indent=2) + "\n")
    return report
