"""The one LiteRT loader of the box's models (face finder, face mesh, expression model, music tagger)."""

from __future__ import annotations

import os
import sys
import tempfile
from contextlib import contextmanager

XNNPACK_NOTE = b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU."


def load_interpreter(path, threads: int = 1):
    """A LiteRT interpreter with tensors allocated (ai_edge_litert, else the older tflite_runtime: the same API).

    A file LiteRT cannot read raises its ValueError or RuntimeError; callers say which model it was. LiteRT's native
    "Created ... XNNPACK delegate" note on every load is left out of stderr (the journal, the doctor); anything else
    it writes there passes through.
    """
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        from tflite_runtime.interpreter import Interpreter
    with _native_stderr_without(XNNPACK_NOTE):
        interpreter = Interpreter(model_path=str(path), num_threads=threads)
        interpreter.allocate_tensors()
    return interpreter


@contextmanager
def _native_stderr_without(note: bytes):
    """Catch what native code writes to file descriptor 2 meanwhile, and write it back without ``note``."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            kept = b"".join(line for line in caught.read().splitlines(keepends=True) if note not in line)
            if kept:
                os.write(2, kept)
