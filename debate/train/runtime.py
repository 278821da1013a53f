"""Where a run computes, as one object: the device mesh, the sharding rules of parameters
(`(regex, mesh axes)` pairs, `debate.train.mesh`), and the mesh axes a batch of games or examples
is split over. Passed wherever the three travel together: the trainer, rollout, self-play,
tournaments, co-training and the uses of debate. Built from the config by `debate.runs.
prepare_workdir`, by hand in tests and scripts (`Runtime.local`)."""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

from jax.sharding import Mesh, NamedSharding

from debate.train import mesh as mesh_lib


@dataclasses.dataclass(frozen=True)
class Runtime:
  mesh: Mesh | None = None       # None: one device, no sharding (jit alone)
  rules: tuple = ()
  batch_axes: tuple[str, ...] = ("data",)

  @classmethod
  def from_config(cls, config, mesh: Mesh | None) -> "Runtime":
    return cls(mesh, tuple(config.sharding.rules), tuple(config.sharding.batch_axes))

  @classmethod
  def local(cls, data: int = 1, model: int = 1, devices: Sequence[Any] | None = None,
            rules=()) -> "Runtime":
    """A `data` x `model` mesh on this process's first devices."""
    import jax
    devices = jax.devices()[:data * model] if devices is None else devices
    return cls(mesh_lib.make_mesh({"data": data, "model": model}, devices), tuple(rules))

  @property
  def shards(self) -> int:
    """How many pieces a batch is split into (a batch must divide by it)."""
    if self.mesh is None:
      return 1
    return int(math.prod(self.mesh.shape[a] for a in self.batch_axes))

  def batch_sharding(self) -> NamedSharding:
    return mesh_lib.batch_sharding(self.mesh, self.batch_axes)

  def replicated(self) -> NamedSharding:
    return mesh_lib.replicated(self.mesh)
