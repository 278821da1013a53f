r"""The one entry point: `python -m experiments.run --config configs/X.py[:args] --workdir DIR`.

Overrides: `--config.seed=1 --config.data.source=tfds`. Bad input stops the run
before any work with one message that names the bad value and what is allowed.
"""
from __future__ import annotations

import argparse
import errno
import importlib
import logging
import os
import sys

from debate.config import ROOT as _ROOT
from debate.config import ConfigError, describe, load_config
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
    "nyu_debate": "experiments.nyu_debate",
    "recursive_debate": "experiments.recursive_debate",
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


class _BackgroundErrors(logging.Filter):
  """Errors raised or logged in background threads (orbax's checkpoint writers) are held back
  while the run's own outcome is reported in one line: a full disk fails in a dozen writer
  threads at once, each with its traceback. Shown in full after a successful run (nothing is
  hidden then), counted after a failed one, or shown with DEBATE_TRACEBACKS=1."""

  def __init__(self):
    super().__init__()
    self.held: list[str] = []

  def filter(self, record):  # Logging: hold ERROR records of threads other than the main one.
    import threading
    if record.levelno >= logging.ERROR and record.threadName != threading.main_thread().name:
      self.held.append(f"{record.threadName}: {record.getMessage()}")
      return False
    return True

  def install(self):
    import threading
    for h in logging.getLogger().handlers:
      h.addFilter(self)
    threading.excepthook = lambda a: self.held.append(
        f"thread {a.thread.name if a.thread else '?'}: {a.exc_type.__name__}: {a.exc_value}")
    sys.unraisablehook = lambda u: self.held.append(
        f"{u.exc_type.__name__ if u.exc_type else '?'}: {u.exc_value} (in {u.object!r})")

  def report(self, failed: bool) -> str:
    """After a failure, a note to append to its line; otherwise prints what was held."""
    held, self.held = self.held, []
    if failed and held and not os.environ.get("DEBATE_TRACEBACKS"):
      return (f" ({len(held)} errors of background writer threads not shown; "
              "DEBATE_TRACEBACKS=1 shows them)")
    if held:
      print("\n".join(held), file=sys.stderr)
    return ""


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__, add_help=False,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--config", help="configs/NAME.py[:key=value,...]")
  parser.add_argument("--workdir")
  parser.add_argument("-h", "--help", action="store_true",
                      help="with --config: the config's arguments and keys, with defaults")
  args, rest = parser.parse_known_args(argv)
  if args.help or not args.config or not args.workdir:
    return _help(parser, args)
  bad = [r for r in rest if not r.startswith("--config.")]
  logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                      datefmt="%H:%M:%S", stream=sys.stderr, force=True)
  logging.getLogger("absl").setLevel(logging.WARNING)  # Orbax logs every file it writes.
  logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)  # "no TPU" on every CPU.
  background = _BackgroundErrors()
  if argv is None:  # The command line (tests call main in-process and keep their hooks).
    background.install()
  try:
    code, line = _main(args, bad, rest)
  except Exception as e:
    from debate.train import mesh as mesh_lib
    if not mesh_lib.distributed_on():
      raise
    # A collective fails when another process stops: one line, and (in __main__) no exit
    # through jax.distributed's shutdown barrier, which would wait for the dead process.
    import jax
    first = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
    code, line = 1, (f"error: process {jax.process_index()} of {jax.process_count()}: "
                     f"{type(e).__name__}: {first} (another process probably stopped); rerun "
                     "every process with the same command: the run resumes from its last "
                     "checkpoint")
  note = background.report(failed=code != 0)
  if line:
    print(line + note, file=sys.stderr)
  return code


def _help(parser, args) -> int:
  """`--help`: the runner's usage, and with `--config` that config's arguments and keys."""
  if not args.config:
    parser.print_help()
    print("\nconfigs: " + ", ".join(sorted(
        f"configs/{f}" for f in os.listdir(os.path.join(_ROOT, "configs"))
        if f.endswith(".py") and f not in ("__init__.py", "common.py"))))
    return 0 if args.help else 2
  try:
    text = describe(args.config)
  except ConfigError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  print(text)
  if not args.help:
    print("\nerror: --workdir is required to run", file=sys.stderr)
    return 2
  return 0


def _main(args, bad, rest) -> tuple[int, str]:
  """(exit status, the one line that says how the run ended, or '' when it finished)."""
  try:
    if bad:
      raise ConfigError(f"unknown arguments {bad}; allowed: --config, --workdir, --config.KEY=VALUE")
    run(args.config, args.workdir, rest)
  except ConfigError as e:
    return 2, f"error: {e}"
  except Preempted as e:
    return preempt.EXIT_PREEMPTED, f"preempted: {e} (exit status {preempt.EXIT_PREEMPTED})"
  except FloatingPointError as e:  # Diverged: NaN or infinite loss or gradient norm.
    from debate import runs
    runs.mark_diverged(args.workdir, str(e))  # The rerun may then lower the learning rate.
    return 1, f"error: {e}"
  except KeyboardInterrupt:
    return 130, ("interrupted: stopped at once; rerun the same command to resume from the last "
                 "checkpoint")
  except OSError as e:
    if e.errno not in _WRITE_ERRORS:
      raise
    return 1, (f"error: cannot write {e.filename or args.workdir!r}: {e.strerror}; the last good "
               "checkpoint is kept (free space or fix permissions, then rerun the same command)")
  return 0, ""


if __name__ == "__main__":
  status = main()
  if status:
    # A failed or interrupted run may leave orbax's writer threads mid-write: leave now, without
    # the interpreter's shutdown (where those threads print tracebacks); the lock goes first.
    from debate import lock
    lock.release_all()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
  sys.exit(status)
