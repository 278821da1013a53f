"""Metrics to JSONL and TensorBoard (tensorboardX: no TensorFlow needed), from process 0 only."""
from __future__ import annotations

import json
import os
from typing import Mapping

import jax
import numpy as np

from debate import io


class MetricWriter:

  def __init__(self, workdir: str, name: str = "metrics", resume_step: int = 0):
    self.enabled = jax.process_index() == 0
    self.path = os.path.join(workdir, f"{name}.jsonl")
    self._tb = None
    if not self.enabled:
      return
    os.makedirs(workdir, exist_ok=True)
    # On resume, drop records written after the checkpoint we resume from, so the file reads as
    # one uninterrupted run.
    if os.path.exists(self.path):
      keep = [r for r in io.read_jsonl(self.path) if r.get("step", 0) <= resume_step]
      io.atomic_write_jsonl(self.path, keep)
    from tensorboardX import SummaryWriter
    self._tb = SummaryWriter(os.path.join(workdir, "tensorboard", name), purge_step=resume_step + 1
                             if resume_step else None)

  def write(self, step: int, scalars: Mapping[str, float]) -> None:
    if not self.enabled:
      return
    row = {"step": int(step), **{k: float(np.asarray(v)) for k, v in scalars.items()}}
    with open(self.path, "a") as f:
      f.write(json.dumps(row, sort_keys=True) + "\n")
    for k, v in scalars.items():
      self._tb.add_scalar(k, float(np.asarray(v)), int(step))
    self._tb.flush()  # A kill -9 loses at most the last logging interval.

  def flush(self) -> None:
    if self._tb is not None:
      self._tb.flush()

  def close(self) -> None:
    if self._tb is not None:
      self._tb.close()
      self._tb = None


def read_metrics(path: str) -> list[dict]:
  return io.read_jsonl(path)
