"""Device mesh, sharding rules from the config, multi-host set-up and global batches.

Sharding rules are `(regex, spec)` pairs from the config. A rule matches a leaf when the regex
`re.search`es its path (`params/conv1/kernel`, `opt_state/0/mu/conv1/kernel`, ...). `spec` names
mesh axes for the *trailing* dimensions of the leaf, so `(".*kernel", ("model",))` shards the output
dimension of every dense and conv kernel, and the same rule shards Adam's moments the same way.
Leaves no rule matches, and scalars, are replicated.
"""
from __future__ import annotations

import logging
import math
import os
import re
from typing import Any, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from debate.config import ConfigError

Rules = Sequence[tuple[str, Sequence[str | None]]]


def maybe_initialize_distributed(config) -> None:
  """Starts `jax.distributed` when the config (`distributed=True`) or the environment asks."""
  wanted = bool(config.get("distributed", False))
  env = any(k in os.environ for k in ("JAX_COORDINATOR_ADDRESS", "COORDINATOR_ADDRESS"))
  if (wanted or env) and not _DISTRIBUTED["on"]:
    # JAX reads the coordinator from JAX_COORDINATOR_ADDRESS and detects SLURM, Cloud TPU and
    # the like; elsewhere (several processes on one machine, plain hosts) the process count and
    # id come from JAX_NUM_PROCESSES and JAX_PROCESS_ID.
    kwargs = {k: int(os.environ[v]) for k, v in (("num_processes", "JAX_NUM_PROCESSES"),
                                                 ("process_id", "JAX_PROCESS_ID"))
              if v in os.environ}
    try:
      jax.distributed.initialize(**kwargs)
    except (ValueError, RuntimeError) as e:
      raise ConfigError(
          f"distributed={wanted} but jax.distributed cannot start ({str(e).splitlines()[0]}); "
          "allowed: distributed=false on one host, or set JAX_COORDINATOR_ADDRESS (host:port of "
          "process 0), JAX_NUM_PROCESSES and JAX_PROCESS_ID on every host (or run under a "
          "cluster jax detects: SLURM, Cloud TPU, GKE)") from None
    _DISTRIBUTED["on"] = True
    logging.info("jax.distributed: process %d of %d", jax.process_index(), jax.process_count())
    if jax.process_count() > 1:
      import threading
      threading.Thread(target=_watch_peers, name="peer-watchdog", daemon=True).start()


HEARTBEAT_S, STALE_S, GRACE_S = 2.0, 10.0, 120.0


def _watch_peers() -> None:
  """Every process writes a heartbeat to the coordinator's key-value store and reads the
  others'. When a peer stops (killed, crashed) or the coordinator is gone, this process says so
  in one line and stops at once, instead of waiting in a collective until JAX's own heartbeat
  check aborts it 100 s later with a page of C++ logs."""
  import time
  from jax._src import distributed
  client = distributed.global_state.client
  me, n = jax.process_index(), jax.process_count()
  start, beat = time.time(), 0
  seen = {p: (None, start) for p in range(n) if p != me}
  while True:
    beat += 1
    try:
      client.key_value_set(f"debate_alive/{me}", str(beat), allow_overwrite=True)
      for p, (value, when) in list(seen.items()):
        try:
          now_value = client.key_value_try_get(f"debate_alive/{p}")
        except Exception as e:  # Not written yet (a slow start) reads as NOT_FOUND.
          if "NOT_FOUND" not in str(e):
            raise
          now_value = None
        if now_value != value:
          seen[p] = (now_value, time.time())
        elif time.time() - when > (STALE_S if value is not None else GRACE_S):
          _stop(f"process {p} of {n} stopped (no heartbeat for {time.time() - when:.0f} s)")
    except Exception as e:
      _stop(f"the coordinator is gone ({str(e).splitlines()[0][:100] if str(e) else type(e).__name__})")
    time.sleep(HEARTBEAT_S)


def distributed_on() -> bool:
  return _DISTRIBUTED["on"] and jax.process_count() > 1


def _stop(why: str) -> None:
  import sys
  from debate import lock
  print(f"error: {why}; process {jax.process_index()} stops too (exit status 1). Rerun every "
        "process with the same command: the run resumes from its last checkpoint",
        file=sys.stderr, flush=True)
  lock.release_all()
  os._exit(1)


_DISTRIBUTED = {"on": False}


def make_mesh(mesh_cfg: dict[str, int], devices: Sequence[jax.Device] | None = None) -> Mesh:
  """Mesh with the config's axis names and sizes; one size may be -1 (all remaining devices)."""
  devices = list(devices if devices is not None else jax.devices())
  names = tuple(mesh_cfg.keys())
  sizes = [int(v) for v in mesh_cfg.values()]
  if sizes.count(-1) > 1:
    raise ConfigError(f"mesh={dict(mesh_cfg)}: at most one axis may be -1")
  known = math.prod(s for s in sizes if s != -1)
  if -1 in sizes:
    if len(devices) % known:
      raise ConfigError(f"mesh={dict(mesh_cfg)} does not divide the {len(devices)} devices; "
                        f"allowed: axis sizes whose product divides {len(devices)}")
    sizes[sizes.index(-1)] = len(devices) // known
  if math.prod(sizes) != len(devices):
    raise ConfigError(f"mesh={dict(mesh_cfg)} needs {math.prod(sizes)} devices but "
                      f"{len(devices)} are available; allowed: axis sizes with product "
                      f"{len(devices)} (use -1 for one axis)")
  return Mesh(np.asarray(devices).reshape(sizes), names)


def mesh_shape(mesh: Mesh) -> dict[str, int]:
  return {name: int(size) for name, size in mesh.shape.items()}


def path_str(path) -> str:
  parts = []
  for k in path:
    if isinstance(k, jax.tree_util.DictKey):
      parts.append(str(k.key))
    elif isinstance(k, jax.tree_util.SequenceKey):
      parts.append(str(k.idx))
    elif isinstance(k, jax.tree_util.GetAttrKey):
      parts.append(k.name)
    else:
      parts.append(str(k))
  return "/".join(parts)


def spec_for(path: str, shape: tuple[int, ...], rules: Rules, mesh: Mesh) -> P:
  for pattern, spec in rules:
    if not re.search(pattern, path):
      continue
    spec = tuple(spec)
    if len(spec) > len(shape):
      continue  # A rule for matrices says nothing about scalars (e.g. Adam's count).
    full = (None,) * (len(shape) - len(spec)) + spec
    for dim, axis in zip(shape, full):
      if axis is not None and dim % mesh.shape[axis]:
        raise ConfigError(f"sharding rule ({pattern!r}, {spec}) puts {path} (shape {shape}) dim "
                          f"{dim} on mesh axis {axis!r} of size {mesh.shape[axis]}, which does not "
                          "divide it; allowed: rules whose mesh axes divide the dimensions")
    return P(*full)
  return P()


def tree_shardings(tree: Any, mesh: Mesh, rules: Rules) -> Any:
  """NamedSharding for every leaf of `tree` (arrays or ShapeDtypeStructs) from the rules."""
  def one(path, leaf):
    return NamedSharding(mesh, spec_for(path_str(path), tuple(np.shape(leaf)), rules, mesh))
  return jax.tree_util.tree_map_with_path(one, tree)


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def batch_sharding(mesh: Mesh, batch_axes: Sequence[str] = ("data",)) -> NamedSharding:
  return NamedSharding(mesh, P(tuple(batch_axes)))


def process_slice(global_batch: int) -> slice:
  """The rows of a global batch that this process loads."""
  n = jax.process_count()
  if global_batch % n:
    raise ConfigError(f"batch_size={global_batch} is not divisible by the {n} processes")
  per = global_batch // n
  return slice(jax.process_index() * per, (jax.process_index() + 1) * per)


def to_global(local_tree: Any, sharding: NamedSharding) -> Any:
  """Builds global arrays from this process's rows (the batch dimension is sharded)."""
  return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)),
                      local_tree)


def same_on_every_process(tree: Any, shardings: Any) -> Any:
  """Global arrays from host values every process holds whole (a batch of games, a judge's
  parameters); one `NamedSharding` for every leaf, or a tree of them matching `tree`'s top
  level. Needed only when several processes share the mesh (`jax.process_count() > 1`)."""
  def one(x, sharding):
    x = np.asarray(jax.device_get(x))
    return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])
  if isinstance(shardings, NamedSharding):
    return jax.tree.map(lambda x: one(x, shardings), tree)
  return tuple(jax.tree.map(lambda x, s=s: one(x, s), t) for t, s in zip(tree, shardings))


def to_host(tree: Any) -> Any:
  """Numpy values of (possibly multi-process) global arrays, whole on every process."""
  if jax.process_count() == 1:
    return jax.device_get(tree)
  from jax.experimental import multihost_utils
  return multihost_utils.process_allgather(tree, tiled=True)
