"""Helper of scripts/aarch64-smoke; runs the same way on the host and under qemu-aarch64.

    python aarch64_classify.py select DATASET_DIR N FACES.npy        # host: N FER2013 PrivateTest faces
    python aarch64_classify.py classify MODEL FACES.npy PROBS.npy     # either: the device's model code on them
    python aarch64_classify.py reference MODEL FACES.npy RAW.npy N    # either: N faces on the reference kernels
    python aarch64_classify.py compare DIR MIN_AGREEMENT              # host: host_*.npy against emulated_*.npy

The faces are 48x48 FER2013 crops, fed to ExpressionModel.predict directly (no camera, no face detector), so the
comparison isolates the inference runtime and the model code. Nothing here is written inside the repository.

Two comparisons, because they answer different questions:
- reference kernels (plain C++ code, the same on every CPU except for libm's exp in softmax): the top-1 label must
  be the same for every face and the int8 outputs within REFERENCE_TOLERANCE steps, which shows the emulated
  aarch64 userland, wheels and model load are right;
- the optimized kernels the device really runs: their int8 rounding differs between CPUs and runtime builds (the
  host's own ai_edge_litert and tflite_runtime differ just as much), which flips faces whose two best expressions
  are nearly tied. Agreement is therefore required on faces with a clear decision (top-2 margin >= CLEAR_MARGIN
  on the host); the raw agreement over all faces is printed beside it.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

PRIVATE_TEST = 2
CLEAR_MARGIN = 0.05
REFERENCE_TOLERANCE = 2


def select(dataset_dir: str, count: str, out: str) -> None:
    data = np.load(Path(dataset_dir) / "fer2013.npz")
    private = np.flatnonzero(data["usage"] == PRIVATE_TEST)
    # Spread over the whole PrivateTest split, so every expression is represented.
    chosen = private[np.linspace(0, len(private) - 1, int(count)).astype(int)]
    np.save(out, data["pixels"][chosen])


def classify(model_path: str, faces_path: str, out: str) -> None:
    from moodbox.expression import ExpressionModel

    started = time.monotonic()
    model = ExpressionModel(model_path)
    loaded = time.monotonic()
    faces = np.load(faces_path)
    height, width = model.input_size
    if faces.shape[1:] != (height, width):
        sys.exit(f"{faces_path}: faces are {faces.shape[1:]}, the model takes {(height, width)}")
    probabilities = np.stack([model.predict(face) for face in faces])
    np.save(out, probabilities)
    runtime = "ai_edge_litert" if "ai_edge_litert" in sys.modules else "tflite_runtime"
    print(json.dumps({"machine": platform.machine(), "python": platform.python_version(), "runtime": runtime,
                      "numpy": np.__version__, "faces": len(faces), "load_s": round(loaded - started, 2),
                      "classify_s": round(time.monotonic() - loaded, 2)}))


def reference(model_path: str, faces_path: str, out: str, count: str) -> None:
    """Raw int8 outputs of the reference kernels, input quantised with the tensor's own parameters."""
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError:
        from tflite_runtime.interpreter import Interpreter, OpResolverType
    interpreter = Interpreter(model_path=model_path, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()
    source, target = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    scale, zero_point = source["quantization"]
    info = np.iinfo(source["dtype"])
    outputs = []
    for face in np.load(faces_path)[: int(count)]:
        quantised = np.clip(np.round(face.astype(np.float32) / scale + zero_point), info.min, info.max)
        interpreter.set_tensor(source["index"], quantised.astype(source["dtype"]).reshape(source["shape"]))
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(target["index"])[0].copy())
    np.save(out, np.stack(outputs))


def compare(folder: str, min_agreement: str) -> None:
    work = Path(folder)
    host, emulated = np.load(work / "host_probs.npy"), np.load(work / "emulated_probs.npy")
    host_raw, emulated_raw = np.load(work / "host_reference.npy"), np.load(work / "emulated_reference.npy")
    if host.shape != emulated.shape or host_raw.shape != emulated_raw.shape:
        sys.exit(f"shape mismatch: host {host.shape}/{host_raw.shape}, emulated {emulated.shape}/{emulated_raw.shape}")
    same = host.argmax(axis=1) == emulated.argmax(axis=1)
    ranked = np.sort(host, axis=1)
    clear = ranked[:, -1] - ranked[:, -2] >= CLEAR_MARGIN
    clear_agreement = float(same[clear].mean())
    reference_steps = int(np.abs(host_raw.astype(int) - emulated_raw.astype(int)).max())
    reference_same_top1 = bool(np.array_equal(host_raw.argmax(axis=1), emulated_raw.argmax(axis=1)))
    print(json.dumps({
        "faces": len(host), "agreement_all": round(float(same.mean()), 4),
        "clear_faces": int(clear.sum()), "agreement_clear": round(clear_agreement, 4),
        "disagreeing_host_margins": [round(float(m), 3) for m in (ranked[:, -1] - ranked[:, -2])[~same]],
        "max_probability_difference": round(float(np.abs(host - emulated).max()), 4),
        "reference_faces": len(host_raw), "reference_same_top1": reference_same_top1,
        "reference_max_int8_steps": reference_steps,
        "min_agreement": float(min_agreement)}))
    if not reference_same_top1 or reference_steps > REFERENCE_TOLERANCE:
        sys.exit(f"reference kernels differ between aarch64 and the host (top-1 same: {reference_same_top1}, "
                 f"{reference_steps} int8 steps apart): the emulated stack is wrong")
    if clear_agreement < float(min_agreement):
        sys.exit(f"aarch64 and host agree on {clear_agreement:.2%} of clear faces, below {float(min_agreement):.0%}")


if __name__ == "__main__":
    commands = {"select": select, "classify": classify, "reference": reference, "compare": compare}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](*sys.argv[2:])
