"""Issue 28, session 5: can MusiCNN run faster here? Batched invokes and post-training quantisation, measured.

Converts the card's MusiCNN graph (``moodbox_training.music.musicnn``) with a free batch dimension three ways: float32,
dynamic-range (int8 weights) and full int8 (representative data: log-mel patches of the 4Q clips, the device's front
end), into ``--work`` (not the repository). On ``--clips`` other clips (6 excerpts each) it then times, in one
process, CPU per 6 patches: the shipped float model invoked once per patch; the float model invoked once on a
[6, 187, 96] batch; each quantised model with LiteRT's default (XNNPACK) and with its built-in kernels; and how
well the outputs agree with the shipped model (mean cosine of embedding and pooled features, largest tag error):
    cd training && PYTHONPATH=.:../device .venv/bin/python music_speed_variants.py --work /tmp/musicnn-variants \\
        > experiments/issue28-s5-speed-variants.json
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
from threadpoolctl import threadpool_limits

from moodbox.music import audio
from moodbox_training.music import data, musicnn
from moodbox_training.music.cli import DEFAULT_DATA, DEFAULT_OUT, MODEL_FILE

parser = argparse.ArgumentParser()
parser.add_argument("--work", type=Path, required=True)
parser.add_argument("--calibration-clips", type=int, default=60)
parser.add_argument("--clips", type=int, default=15)
args = parser.parse_args()
args.work.mkdir(parents=True, exist_ok=True)
threadpool_limits(limits=1)
tf.config.threading.set_intra_op_parallelism_threads(1)

clips = data.load(DEFAULT_DATA)
order = np.random.default_rng(0).permutation(len(clips))
calibration = [clips[i] for i in order[:args.calibration_clips]]
timed = [clips[i] for i in order[args.calibration_clips:args.calibration_clips + args.clips]]
representative = np.concatenate([audio.logmel_patches(audio.read_segments(c.path, 3)) for c in calibration])
test = [audio.logmel_patches(audio.read_segments(c.path, 6)) for c in timed]

net = musicnn.Musicnn(musicnn.load_weights(musicnn.checkpoint_prefix()))


@tf.function(input_signature=[tf.TensorSpec([None, musicnn.N_FRAMES, musicnn.N_MELS], tf.float32, name="logmel")])
def serve(logmel):
    tags, embedding, pool = net(logmel)
    return {"tags": tags, "embedding": embedding, "pool": pool}


def convert(name, quantise=False, calibrate=False) -> Path:
    converter = tf.lite.TFLiteConverter.from_concrete_functions([serve.get_concrete_function()], serve)
    if quantise:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if calibrate:
        converter.representative_dataset = lambda: ([patch[None]] for patch in representative)
    path = args.work / f"{name}.tflite"
    path.write_bytes(converter.convert())
    return path


def interpreter(path: Path, batch: int, builtin: bool = False):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    extra = {"experimental_op_resolver_type": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES} if builtin else {}
    it = Interpreter(model_path=str(path), num_threads=1, **extra)
    if batch > 1:
        it.resize_tensor_input(it.get_input_details()[0]["index"], [batch, musicnn.N_FRAMES, musicnn.N_MELS])
    it.allocate_tensors()
    return it


def run(it, patches: np.ndarray, batched: bool) -> dict:
    index = it.get_input_details()[0]["index"]
    outputs = {int(d["shape"][-1]): d["index"] for d in it.get_output_details()}
    feeds = [patches] if batched else [patch[None] for patch in patches]
    rows = []
    for feed in feeds:
        it.set_tensor(index, feed)
        it.invoke()
        rows.append({width: it.get_tensor(i).copy() for width, i in outputs.items()})
    return {width: np.concatenate([row[width] for row in rows]) for width in outputs}


def cosine(a, b) -> float:
    return float(np.mean(np.sum(a * b, 1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)))


paths = {"float": convert("float"), "dynamic range": convert("dynamic_range", quantise=True),
         "int8": convert("int8", quantise=True, calibrate=True)}
variants = {"shipped float, one invoke per patch": (interpreter(DEFAULT_OUT / MODEL_FILE, 1), False),
            "float, one invoke on [6, 187, 96]": (interpreter(paths["float"], 6), True)}
for name in ("dynamic range", "int8"):
    variants[f"{name}, XNNPACK"] = (interpreter(paths[name], 1), False)
    variants[f"{name}, built-in kernels"] = (interpreter(paths[name], 1, builtin=True), False)
cpu = {name: [] for name in variants}
outputs = {name: [] for name in variants}
for patches in test:  # clip by clip, every variant in turn: a busy machine slows all alike
    for name, (it, batched) in variants.items():
        start = time.process_time()
        outputs[name].append(run(it, patches, batched))
        cpu[name].append(time.process_time() - start)
reference = {w: np.concatenate([o[w] for o in outputs["shipped float, one invoke per patch"]]) for w in (50, 200, 1506)}
rows = {}
for name in variants:
    got = {w: np.concatenate([o[w] for o in outputs[name]]) for w in (50, 200, 1506)}
    rows[name] = {"median_cpu_s_per_6_patches": float(np.median(cpu[name])),
                  "embedding_cosine": cosine(got[200], reference[200]),
                  "pool_cosine": cosine(got[1506], reference[1506]),
                  "tags_max_abs_error": float(np.abs(got[50] - reference[50]).max())}
    print(name, rows[name], file=sys.stderr)
print(json.dumps({"clips_timed": len(test), "calibration_patches": len(representative),
                  "model_bytes": {name: path.stat().st_size for name, path in paths.items()},
                  "load_average": list(os.getloadavg()), "cores": os.cpu_count(), "rows": rows}, indent=1))
