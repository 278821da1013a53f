"""What every run does around its work: validate, guard the workdir, write results, tables, plots."""
from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

import jax
import ml_collections

from debate import io, lock
from debate.config import ConfigError, validate_common
from debate.train import mesh as mesh_lib
from debate.train.runtime import Runtime

# Keys that may change between a run and its resume: training longer is a continuation, and a
# checkpoint restores onto any mesh.
RESUMABLE_KEYS = ("steps", "mesh.", "distributed")


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
  out = {}
  for k, v in d.items():
    key = f"{prefix}{k}"
    if isinstance(v, dict):
      out.update(_flatten(v, key + "."))
    else:
      out[key] = v
  return out


def config_to_dict(config) -> dict:
  return json.loads(io.dumps(config.to_dict()))


def prepare_workdir(config: ml_collections.ConfigDict, workdir: str, check_data=None):
  """Validates shared keys and (`check_data(config)`, the task's) the data, builds the mesh,
  refuses a workdir holding a different config.

  Returns the run's `Runtime` (the mesh, the config's sharding rules and batch axes). Nothing is
  written before every check has passed.
  """
  validate_common(config)
  check_workdir(workdir)
  if check_data is not None:  # Damaged or missing files: said before writing.
    check_data(config)
  mesh = make_mesh(config)
  path = os.path.join(workdir, "config.json")
  new = config_to_dict(config)
  if os.path.exists(path):
    try:
      old = io.read_json(path)
      if not isinstance(old, dict):
        raise ValueError(f"it holds a {type(old).__name__}, not an object")
    except (ValueError, OSError) as e:
      raise ConfigError(f"workdir {workdir!r} has a damaged config.json ({str(e)[:80]}); "
                        "allowed: a new workdir, or delete that config.json to reuse this one "
                        "(nothing then checks the new config against the old run)") from None
    a, b = _flatten(old), _flatten(new)
    diff = sorted(k for k in set(a) | set(b)
                  if a.get(k) != b.get(k) and not k.startswith(RESUMABLE_KEYS))
    diverged = os.path.join(workdir, DIVERGED)
    if diff and os.path.exists(diverged) and all(k.endswith("learning_rate") for k in diff):
      logging.warning("the last run in %s diverged; resuming with %s", workdir, ", ".join(
          f"{k}={b.get(k)!r} (was {a.get(k)!r})" for k in diff))
      diff = []
    if diff:
      shown = ", ".join(f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in diff[:8])
      raise ConfigError(f"workdir {workdir!r} holds a run of a different config ({shown}); "
                        "allowed: the same config (to resume) or a new, empty workdir")
  os.makedirs(workdir, exist_ok=True)
  if jax.process_index() == 0:
    lock.acquire(workdir)
    io.atomic_write_json(path, new)
    if os.path.exists(os.path.join(workdir, DIVERGED)):
      os.unlink(os.path.join(workdir, DIVERGED))
  _STARTED[os.path.abspath(workdir)] = time.time()
  logging.getLogger().setLevel(logging.INFO)
  logging.getLogger("absl").setLevel(logging.WARNING)
  return Runtime.from_config(config, mesh)


DIVERGED = "diverged.json"  # Written when a run diverges: its rerun may change learning rates.


def mark_diverged(workdir: str, message: str) -> None:
  """After a divergence: the next run on `workdir` may lower its learning rate(s) and resume."""
  if os.path.isdir(workdir) and os.path.exists(os.path.join(workdir, "config.json")) and \
      jax.process_index() == 0:
    io.atomic_write_json(os.path.join(workdir, DIVERGED),
                         {"message": message, "at": time.strftime("%Y-%m-%dT%H:%M:%S")})


def check_workdir(workdir: str) -> None:
  """The workdir is a directory we can write, or can be created: checked before any write."""
  if not workdir:
    raise ConfigError("--workdir is empty; allowed: a directory path")
  path = os.path.abspath(workdir)
  if os.path.exists(path) and not os.path.isdir(path):
    raise ConfigError(f"workdir {workdir!r} is a file; allowed: a directory (new or of an "
                      "earlier run of this config)")
  parent = path
  while not os.path.exists(parent):
    parent = os.path.dirname(parent)
  if not os.path.isdir(parent):
    raise ConfigError(f"workdir {workdir!r} cannot be created: {parent!r} is a file; allowed: "
                      "a path under a directory")
  if not os.access(parent, os.W_OK | os.X_OK):
    raise ConfigError(f"workdir {workdir!r} is not writable ({parent!r} denies writing); "
                      "allowed: a directory you can write")


def make_mesh(config):
  mesh_lib.maybe_initialize_distributed(config)
  return mesh_lib.make_mesh(dict(config.mesh))


_STARTED: dict[str, float] = {}  # workdir -> when this invocation passed its checks.
INVOCATIONS = "invocations.jsonl"


def _invocations(workdir: str, wall_seconds: float) -> dict:
  """Every finished invocation of this workdir's run (a resumed run has several), this one
  appended: how many, and their wall time together (killed invocations wrote no line)."""
  path = os.path.join(workdir, INVOCATIONS)
  started = _STARTED.get(os.path.abspath(workdir), time.time() - wall_seconds)
  rows = io.read_jsonl(path) + [{"started": time.strftime("%Y-%m-%dT%H:%M:%S",
                                                          time.localtime(started)),
                                 "wall_seconds": time.time() - started}]
  if jax.process_index() == 0:
    io.atomic_write_jsonl(path, rows)
  return {"invocations": len(rows),
          "wall_seconds_all_invocations": float(sum(r["wall_seconds"] for r in rows))}


def write_results(workdir: str, config, *, metrics: dict, runtime, steps: int,
                  resumed_from_step: int, wall_seconds: float, **extra: Any) -> dict:
  results = {
      "config": config_to_dict(config),
      "metrics": metrics,
      "mesh": mesh_lib.mesh_shape(runtime.mesh),
      "num_devices": jax.device_count(),
      "num_processes": jax.process_count(),
      "backend": jax.default_backend(),
      "steps": steps,
      "resumed_from_step": resumed_from_step,
      "wall_seconds": wall_seconds,
      **_invocations(workdir, wall_seconds),
      "versions": io.versions(),
      "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
      **extra,
  }
  if jax.process_index() == 0:
    io.atomic_write_json(os.path.join(workdir, "results.json"), results)
    _results_to_tensorboard(workdir, metrics, steps)
  return results


def _results_to_tensorboard(workdir: str, metrics: dict, step: int) -> None:
  """Every numeric final metric (test accuracy, win rates, ...) beside the training curves, under
  `tensorboard/results`."""
  from tensorboardX import SummaryWriter
  import re
  scalars = {re.sub(r"[^-/\w.]", "_", k): float(v) for k, v in _flatten(metrics).items()
             if isinstance(v, (int, float)) and not isinstance(v, bool)}
  if not scalars:
    return
  with SummaryWriter(os.path.join(workdir, "tensorboard", "results")) as tb:
    for k, v in scalars.items():
      tb.add_scalar(k, v, step)


def write_report(workdir: str, text: str) -> None:
  if jax.process_index() == 0:
    io.atomic_write_text(os.path.join(workdir, "report.md"), text)


def md_table(header: list[str], rows: list[list[Any]]) -> str:
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
  return "\n".join(lines) + "\n"


def plot_curves(path: str, series: dict[str, tuple[list[float], list[float]]], xlabel: str,
                ylabel: str, title: str) -> None:
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  fig, ax = plt.subplots(figsize=(6, 4))
  for name, (xs, ys) in series.items():
    ax.plot(xs, ys, label=name)
  ax.set_xlabel(xlabel)
  ax.set_ylabel(ylabel)
  ax.set_title(title)
  ax.grid(alpha=0.3)
  if len(series) > 1:
    ax.legend()
  io.savefig(fig, path)
  plt.close(fig)
