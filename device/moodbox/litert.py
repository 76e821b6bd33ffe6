"""The one LiteRT loader of the box's models (face finder, face mesh, expression model, music tagger)."""

from __future__ import annotations


def load_interpreter(path, threads: int = 1):
    """A LiteRT interpreter with tensors allocated (ai_edge_litert, else the older tflite_runtime: the same API).

    A file LiteRT cannot read raises its ValueError or RuntimeError; callers say which model it was.
    """
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        from tflite_runtime.interpreter import Interpreter
    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    return interpreter
