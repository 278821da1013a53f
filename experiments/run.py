r"""The one entry point: `python -m experiments.run --config configs/X.py[:args] --workdir DIR`.

Overrides: `--config.seed=1 --config.data.source=tfds`. Bad input stops the run
before any work with one message that names the bad value and what is allowed.
"""
from __future__ import annotations

import argparse
import errno
import importlib
import logging
import sys

from debate.config import ConfigError, load_config
from debate.train import preempt
from debate.train.preempt import Preempted

EXPERIMENTS = {
    "mnist_judge": "experiments.mnist_judge",
    "mnist_debate": "experiments.mnist_debate",
    "mnist_selfplay": "experiments.mnist_selfplay",
    "mnist_tournament": "experiments.mnist_tournament",
    "debate_reward_rl": "experiments.debate_reward_rl",
    "debate_runtime": "experiments.debate_runtime",
    "distill_reward": "experiments.distill_reward",
    "text_debate": "experiments.text_debate",
    "rejudge": "experiments.rejudge",
}


_WRITE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


def experiment_module(config):
  name = config.get("experiment")
  if name not in EXPERIMENTS:
    raise ConfigError(f"config.experiment={name!r}; allowed: {sorted(EXPERIMENTS)}")
  return importlib.import_module(EXPERIMENTS[name])


def run(config_spec: str, workdir: str, overrides=()) -> dict:
  config = load_config(config_spec, overrides)
  with preempt.Handlers():  # SIGTERM and Ctrl-C: save, stop, exit EXIT_PREEMPTED.
    return experiment_module(config).train_and_evaluate(config, workdir)


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--config", required=True, help="configs/NAME.py[:key=value,...]")
  parser.add_argument("--workdir", required=True)
  args, rest = parser.parse_known_args(argv)
  bad = [r for r in rest if not r.startswith("--config.")]
  logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                      datefmt="%H:%M:%S", stream=sys.stderr, force=True)
  logging.getLogger("absl").setLevel(logging.WARNING)  # Orbax logs every file it writes.
  logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)  # "no TPU" on every CPU.
  try:
    if bad:
      raise ConfigError(f"unknown arguments {bad}; allowed: --config, --workdir, --config.KEY=VALUE")
    run(args.config, args.workdir, rest)
  except ConfigError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  except Preempted as e:
    print(f"preempted: {e} (exit status {preempt.EXIT_PREEMPTED})", file=sys.stderr)
    return preempt.EXIT_PREEMPTED
  except FloatingPointError as e:  # Diverged: NaN or infinite loss or gradient norm.
    print(f"error: {e}", file=sys.stderr)
    return 1
  except KeyboardInterrupt:
    print("interrupted: stopped at once; rerun the same command to resume from the last "
          "checkpoint", file=sys.stderr)
    return 130
  except OSError as e:
    if e.errno not in _WRITE_ERRORS:
      raise
    print(f"error: cannot write {e.filename or args.workdir!r}: {e.strerror}; the last good "
          "checkpoint is kept (free space or fix permissions, then rerun the same command)",
          file=sys.stderr)
    return 1
  return 0


if __name__ == "__main__":
  sys.exit(main())
