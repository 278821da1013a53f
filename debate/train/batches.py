"""Training batches for the one trainer: a deterministic seeded shuffle (grain's `MapDataset`)
addressed by step, so the data-iterator state is a single integer that a checkpoint stores and a
resume restores exactly."""
from __future__ import annotations

from typing import Any

import grain
import jax
import numpy as np

from debate.config import ConfigError
from debate.train import mesh as mesh_lib


class BatchSource:
  """Deterministic shuffled batches addressed by step; each process reads only its rows.

  `arrays` is a pytree of numpy arrays with one leading dim (examples). `batch(step)` returns
  this process's share of global batch `step`, the same pytree. The iterator state is the step
  itself (the trainer checkpoints it as `data_step`): resuming from it yields exactly the
  batches an uninterrupted run sees.
  """

  def __init__(self, arrays: Any, global_batch: int, seed: int):
    n = len(jax.tree.leaves(arrays)[0])
    if n < global_batch:
      raise ConfigError(f"batch_size={global_batch} is larger than the {n} training examples")
    self.arrays = arrays
    self.global_batch = global_batch
    self._rows = mesh_lib.process_slice(global_batch)
    self._index = (grain.MapDataset.range(n).seed(seed).shuffle().repeat()
                   .batch(global_batch, drop_remainder=True))

  def batch(self, step: int) -> Any:
    idx = np.asarray(self._index[step])[self._rows]
    return jax.tree.map(lambda v: v[idx], self.arrays)
