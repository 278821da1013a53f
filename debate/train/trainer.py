"""One sharded trainer for every model in the project (judges, policies, reward models).

The hot path is functional: parameters are a pure pytree, `Functional.module(params)` rebuilds the
flax.nnx module inside the jitted step. Parameters and optimizer state are created already sharded
(`jax.eval_shape`, then a jitted init with `out_shardings` from the config's rules). The step is a
donated `jax.jit` with explicit shardings; metrics of step n are read after step n+1 is dispatched.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from typing import Any, Callable, Mapping, Protocol

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from debate.train import checkpoint as ckpt_lib
from debate.train import mesh as mesh_lib
from debate.train import preempt
from debate.train.writers import MetricWriter

Batch = Mapping[str, Any]
LossFn = Callable[..., tuple[jax.Array, dict[str, jax.Array]]]


Preempted = preempt.Preempted  # SIGTERM/SIGINT arrived; a checkpoint was saved.


class BatchSourceLike(Protocol):
  def batch(self, step: int) -> dict[str, np.ndarray]: ...


@dataclasses.dataclass(frozen=True)
class Functional:
  """An nnx module split into a static graph and a template state, rebuilt from pure params."""
  graphdef: Any
  template: Any

  def module(self, params: Any) -> nnx.Module:
    state = jax.tree.map(lambda x: x, self.template)
    nnx.replace_by_pure_dict(state, params)
    return nnx.merge(self.graphdef, state)


def functionalize(init_model: Callable[[nnx.Rngs], nnx.Module]) -> Functional:
  abstract = nnx.eval_shape(lambda: init_model(nnx.Rngs(0)))
  graphdef, template = nnx.split(abstract)
  return Functional(graphdef, template)


def init_params(init_model: Callable[[nnx.Rngs], nnx.Module], rng: jax.Array) -> Any:
  return nnx.to_pure_dict(nnx.split(init_model(nnx.Rngs(params=rng)))[1])


@dataclasses.dataclass
class TrainTask:
  """What to train: a model constructor, a loss, an optimizer and a batch source."""
  init_model: Callable[[nnx.Rngs], nnx.Module]
  loss_fn: LossFn  # (module, batch, rng, aux) -> (loss, metrics)
  optimizer: optax.GradientTransformation
  data: BatchSourceLike
  aux: Any = None  # Replicated extra inputs to the loss (e.g. a frozen judge's params).
  eval_fn: Callable[[Any, int], dict[str, float]] | None = None  # (params, step) -> metrics
  name: str = "train"
  # Parameters to start from (a pytree like `init_model`'s), e.g. a judge retrained on new
  # transcripts; None: a fresh initialisation from the seed.
  start_params: Any = None


@dataclasses.dataclass
class TrainResult:
  params: Any
  state: Any
  steps: int
  resumed_from_step: int
  wall_seconds: float
  last_metrics: dict[str, float]
  eval_history: list[dict]
  mesh: Any
  steps_per_second: float


def make_state(task: TrainTask, runtime, seed: int):
  """Creates the train state directly sharded; returns (functional, state, shardings)."""
  functional = functionalize(task.init_model)

  def init(rng, start):
    params = init_params(task.init_model, rng) if start is None else start
    return {"params": params, "opt_state": task.optimizer.init(params),
            "step": jnp.zeros((), jnp.int32), "rng": rng}

  rng = jax.random.PRNGKey(seed)
  start = None if task.start_params is None else jax.tree.map(jnp.asarray, task.start_params)
  abstract = jax.eval_shape(init, rng, start)
  shardings = mesh_lib.tree_shardings(abstract, runtime.mesh, runtime.rules)
  state = jax.jit(init, out_shardings=shardings)(rng, start)
  return functional, state, shardings


def make_step(task: TrainTask, functional: Functional, shardings, batch_sharding, aux_sharding):
  def step(state, batch, aux):
    step_rng = jax.random.fold_in(state["rng"], state["step"])

    def loss_of(params):
      return task.loss_fn(functional.module(params), batch, step_rng, aux)

    (loss, metrics), grads = jax.value_and_grad(loss_of, has_aux=True)(state["params"])
    updates, opt_state = task.optimizer.update(grads, state["opt_state"], state["params"])
    params = optax.apply_updates(state["params"], updates)
    metrics = {"loss": loss, "grad_norm": optax.tree.norm(grads), **metrics}
    new_state = {"params": params, "opt_state": opt_state, "step": state["step"] + 1,
                 "rng": state["rng"]}
    return new_state, metrics

  replicated = mesh_lib.replicated(batch_sharding.mesh)
  return jax.jit(step, in_shardings=(shardings, batch_sharding, aux_sharding),
                 out_shardings=(shardings, replicated), donate_argnums=(0,))


class _SigtermFlag:
  """The stop flag of `debate.train.preempt`: set by SIGTERM or SIGINT while the loop runs."""

  def __enter__(self):
    self._handlers = preempt.Handlers().__enter__()
    return self

  @property
  def set(self) -> bool:
    return preempt.requested()

  def __exit__(self, *exc):
    self._handlers.__exit__(*exc)


SAY_EVERY_S = 10.0  # Progress reaches the console at least this often, between logged steps.


def _fmt_eta(seconds: float) -> str:
  if not math.isfinite(seconds):
    return "?"
  m, s = divmod(int(seconds), 60)
  h, m = divmod(m, 60)
  return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def train(task: TrainTask, *, runtime, steps: int, seed: int,
          workdir: str, log_every: int = 100, checkpoint_every: int = 1000, keep: int = 3,
          eval_every: int = 0, stop_after: int | None = None) -> TrainResult:
  """Trains `task` for `steps` steps, resuming from the newest good checkpoint in `workdir`.

  `runtime`: the mesh, parameter sharding rules and batch axes (`debate.train.runtime`).
  `stop_after` stops (with a checkpoint) after that many steps of this call, as a test hook that
  behaves like a kill followed by a restart.
  """
  t0 = time.time()
  functional, state, shardings = make_state(task, runtime, seed)
  mesh = runtime.mesh
  ckpt_dir = os.path.join(workdir, "checkpoints", task.name)
  ckpt = ckpt_lib.Checkpointer(ckpt_dir, keep=keep)
  abstract = ckpt_lib.abstract_with_shardings(state, shardings)
  restored = ckpt.restore(abstract)
  start = 0
  if restored is not None:
    start, state, extra = restored
    if extra.get("data_step", start) != start:
      raise RuntimeError(f"checkpoint {start} has data step {extra['data_step']}")
    logging.info("%s: resumed from step %d (%s)", task.name, start, ckpt_dir)
  batch_sharding = runtime.batch_sharding()
  aux_sharding = jax.tree.map(lambda _: mesh_lib.replicated(mesh), task.aux)
  aux = jax.device_put(task.aux, aux_sharding) if task.aux is not None else None
  step_fn = make_step(task, functional, shardings, batch_sharding, aux_sharding)
  writer = MetricWriter(workdir, name=f"metrics_{task.name}", resume_step=start)
  eval_history = [r for r in _read_eval(workdir, task.name) if r["step"] <= start]
  window: list[dict] = []
  last: dict[str, float] = {}
  pending = None
  t_loop, step_t0 = time.time(), start

  said = [time.time()]

  def drain(item):
    nonlocal last, t_loop, step_t0
    n, metrics = item
    metrics = {k: float(v) for k, v in jax.device_get(metrics).items()}
    bad = [k for k in ("loss", "grad_norm") if k in metrics and not math.isfinite(metrics[k])]
    if bad:
      good = ckpt.latest_step()
      what = " and ".join(f"{'gradient norm' if k == 'grad_norm' else k} is {metrics[k]}"
                          for k in bad)
      kept = (f"The last good checkpoint (step {good}) is kept in {ckpt_dir}." if good else
              "No checkpoint had been saved yet.")
      raise FloatingPointError(
          f"{task.name}: {what} at step {n} (diverged: lower the learning rate); training "
          f"stopped. {kept} Rerun the command with a lower learning rate: the workdir takes it "
          "and resumes.")
    window.append(metrics)
    last = metrics
    logged = n % log_every == 0 or n == steps
    first = n == start + 1
    say = first or logged or time.time() - said[0] > SAY_EVERY_S  # Never long silent.
    rate = (n - step_t0) / max(time.time() - t_loop, 1e-9)
    loss = metrics["loss"]
    if logged:  # Written to the metrics: the mean over the logging interval.
      mean = {k: float(np.mean([w[k] for w in window])) for k in window[0]}
      mean["steps_per_second"] = rate
      writer.write(n, mean)
      window.clear()
      loss = mean["loss"]
    if first:  # Said at once; rates and ETAs from here on exclude compiling.
      logging.info("%s step %d/%d loss %.4f (compiled and ran in %.1f s)", task.name, n, steps,
                   loss, time.time() - t_loop)
      t_loop, step_t0 = time.time(), n
    elif say:
      logging.info("%s step %d/%d loss %.4f  %.1f steps/s  ETA %s", task.name, n, steps, loss,
                   rate, _fmt_eta((steps - n) / max(rate, 1e-9)))
    if say:
      said[0] = time.time()

  n = start
  logging.info("%s: compiling the train step, then %d steps (logged every %d)", task.name,
               steps - start, log_every)
  with _SigtermFlag() as sigterm:
    for n in range(start + 1, steps + 1):
      batch = mesh_lib.to_global(task.data.batch(n - 1), batch_sharding)
      state, metrics = step_fn(state, batch, aux)
      if pending is not None:
        drain(pending)
      pending = (n, metrics)
      stop_now = sigterm.set or (stop_after is not None and n - start >= stop_after)
      if task.eval_fn is not None and eval_every and (n % eval_every == 0 or n == steps):
        drain(pending)
        pending = None
        row = {"step": n, **task.eval_fn(state["params"], n)}
        eval_history.append(row)
        _write_eval(workdir, task.name, eval_history)
      if n % checkpoint_every == 0 or n == steps or stop_now:
        if pending is not None:
          drain(pending)  # Never checkpoint a state whose loss we have not checked.
          pending = None
        ckpt.save(n, state, {"data_step": n})
      if stop_now:
        writer.close()
        ckpt.close()
        raise Preempted(f"{task.name}: stopped at step {n} with a checkpoint in {ckpt_dir}; "
                        "rerun the same command to resume")
    if pending is not None:
      drain(pending)
  writer.close()
  ckpt.close()
  elapsed = time.time() - t0
  rate = (steps - start) / max(time.time() - t_loop, 1e-9)
  return TrainResult(params=state["params"], state=state, steps=steps, resumed_from_step=start,
                     wall_seconds=elapsed, last_metrics=last, eval_history=eval_history,
                     mesh=mesh, steps_per_second=rate)


def _eval_path(workdir: str, name: str) -> str:
  return os.path.join(workdir, f"eval_{name}.jsonl")


def _read_eval(workdir: str, name: str) -> list[dict]:
  from debate.train.writers import read_metrics
  return read_metrics(_eval_path(workdir, name))


def _write_eval(workdir: str, name: str, rows: list[dict]) -> None:
  if jax.process_index() == 0:
    from debate import io
    io.atomic_write_jsonl(_eval_path(workdir, name), rows)
