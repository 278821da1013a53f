"""Preemption: SIGTERM and SIGINT (Ctrl-C) ask the running loop to save and stop.

The first signal sets a flag that training loops check between steps (`requested()`); they save a
checkpoint and raise `Preempted`, which `experiments.run` turns into one line and exit status
`EXIT_PREEMPTED` (75, EX_TEMPFAIL: "temporary failure, rerun me"; a scheduler that requeues on it
resumes the run exactly). A second SIGINT stops at once (KeyboardInterrupt), for the impatient.
"""
from __future__ import annotations

import logging
import signal

EXIT_PREEMPTED = 75  # sysexits.h EX_TEMPFAIL.

_flag = {"set": False, "signal": None, "depth": 0}


class Preempted(Exception):
  """A stop was requested (SIGTERM/SIGINT) and a checkpoint saved; rerunning resumes."""


def requested() -> bool:
  return _flag["set"]


def reset() -> None:
  _flag.update(set=False, signal=None)


def _handle(signum, frame):
  name = signal.Signals(signum).name
  if _flag["set"] and signum == signal.SIGINT:
    raise KeyboardInterrupt
  _flag.update(set=True, signal=name)
  logging.warning("%s: saving a checkpoint and stopping at the next safe point (rerun the same "
                  "command to resume%s)", name,
                  "; Ctrl-C again to stop at once" if signum == signal.SIGINT else "")


class Handlers:
  """Installs the handlers for the duration of a `with` block (main thread only), restoring the
  previous ones after. Blocks nest (the runner's around the trainer's): the flag is cleared only
  on entering the outermost, so a signal that arrived before an inner block is kept."""

  def __enter__(self):
    if _flag["depth"] == 0:
      reset()
    _flag["depth"] += 1
    self._old = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
      try:
        self._old[sig] = signal.signal(sig, _handle)
      except ValueError:  # Not the main thread.
        pass
    return self

  def __exit__(self, *exc):
    _flag["depth"] -= 1
    for sig, old in self._old.items():
      signal.signal(sig, old)
    return False
