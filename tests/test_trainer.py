"""Sharded trainer: rules shard parameters, sharded == single device, resume, NaN, SIGTERM."""
import os
import signal

import jax
import numpy as np
import optax
import pytest

from debate.config import ConfigError
from debate.data import mnist
from debate.train import checkpoint as ckpt_lib
from debate.train import mesh as mesh_lib
from debate.train import trainer
from debate.train.runtime import Runtime
from judges import mnist_judge as judge_lib

RULES = [(r"kernel$", ("model",)), (r"bias$", ("model",))]


def _task(data_dir, batch=32, seed=0, loss_fn=None, data=None, arch="tiny"):
  train = mnist.load_mnist("train", data_dir)
  spec = judge_lib.get_arch(arch)
  return trainer.TrainTask(
      init_model=lambda rngs: judge_lib.SparseJudge(spec, rngs=rngs),
      loss_fn=loss_fn or judge_lib.make_loss(4), optimizer=optax.adam(1e-3),
      data=data or mnist.BatchSource(train, batch, seed), name="t")


def _train(task, workdir, mesh_cfg, steps, **kw):
  mesh = mesh_lib.make_mesh(mesh_cfg, devices=kw.pop("devices", None))
  kw.setdefault("checkpoint_every", 5)
  return trainer.train(task, runtime=Runtime(mesh, tuple(RULES)), steps=steps, seed=0,
                       workdir=workdir, log_every=5, **kw)


def test_mesh_fills_the_minus_one_axis_and_refuses_sizes_that_do_not_fit():
  devices = jax.devices()[:8]
  mesh = mesh_lib.make_mesh({"data": -1, "model": 2}, devices=devices)
  assert mesh_lib.mesh_shape(mesh) == {"data": 4, "model": 2}
  # Devices are laid out row-major: the two devices of a model group are neighbours.
  assert mesh.devices[1].tolist() == devices[2:4]
  with pytest.raises(ConfigError, match="needs 3 devices but 8 are available"):
    mesh_lib.make_mesh({"data": 3, "model": 1}, devices=devices)
  with pytest.raises(ConfigError, match="does not divide the 8 devices"):
    mesh_lib.make_mesh({"data": -1, "model": 3}, devices=devices)
  with pytest.raises(ConfigError, match="at most one axis may be -1"):
    mesh_lib.make_mesh({"data": -1, "model": -1}, devices=devices)


def test_parameters_sharded_as_rules_say(digits_dir):
  mesh = mesh_lib.make_mesh({"data": 4, "model": 2})
  _, state, _ = trainer.make_state(_task(digits_dir, arch="small"), Runtime(mesh, RULES), seed=0)
  kernel = state["params"]["dense"]["kernel"]  # (7*7*32, 128)
  assert kernel.sharding.spec == jax.sharding.PartitionSpec(None, "model")
  assert {s.data.shape for s in kernel.addressable_shards} == {(7 * 7 * 32, 64)}
  conv = state["params"]["conv1"]["kernel"]  # (5, 5, 2, 16)
  assert {s.data.shape for s in conv.addressable_shards} == {(5, 5, 2, 8)}
  mu = state["opt_state"][0].mu["dense"]["kernel"]
  assert mu.sharding.spec == kernel.sharding.spec  # Adam moments follow the same rules.
  count = state["opt_state"][0].count
  assert count.sharding.is_fully_replicated and len(count.sharding.device_set) == 8


def test_rule_that_does_not_divide_is_a_clear_error(digits_dir):
  mesh = mesh_lib.make_mesh({"data": 1, "model": 8})
  with pytest.raises(ConfigError, match="dim 4 on mesh axis .model. of size 8, which does not divide"):
    trainer.make_state(_task(digits_dir), Runtime(mesh, RULES), seed=0)


def test_bad_mesh_is_a_clear_error():
  with pytest.raises(ConfigError, match="needs 6 devices but 8"):
    mesh_lib.make_mesh({"data": 3, "model": 2})


def test_sharded_run_matches_single_device(digits_dir, tmp_path):
  sharded = _train(_task(digits_dir), str(tmp_path / "a"), {"data": 4, "model": 2}, 6)
  single = _train(_task(digits_dir), str(tmp_path / "b"), {"data": 1, "model": 1}, 6,
                  devices=jax.devices()[:1])
  for a, b in zip(jax.tree.leaves(sharded.params), jax.tree.leaves(single.params)):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-4, atol=2e-5)
  assert sharded.last_metrics["loss"] == pytest.approx(single.last_metrics["loss"], rel=1e-4)


def test_resume_reproduces_uninterrupted_run(digits_dir, tmp_path):
  full = _train(_task(digits_dir), str(tmp_path / "full"), {"data": 4, "model": 2}, 12)
  wd = str(tmp_path / "killed")
  with pytest.raises(trainer.Preempted):
    _train(_task(digits_dir), wd, {"data": 4, "model": 2}, 12, stop_after=7)
  resumed = _train(_task(digits_dir), wd, {"data": 4, "model": 2}, 12)
  assert resumed.resumed_from_step == 7
  for a, b in zip(jax.tree.leaves(full.state), jax.tree.leaves(resumed.state)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  from debate.train.writers import read_metrics
  full_rows = read_metrics(str(tmp_path / "full" / "metrics_t.jsonl"))
  res_rows = read_metrics(os.path.join(wd, "metrics_t.jsonl"))
  assert [r["step"] for r in full_rows] == [r["step"] for r in res_rows]
  assert full_rows[-1]["loss"] == res_rows[-1]["loss"]


def test_damaged_newest_checkpoint_falls_back(digits_dir, tmp_path):
  wd = str(tmp_path / "w")
  _train(_task(digits_dir), wd, {"data": 8, "model": 1}, 10)
  ckdir = os.path.join(wd, "checkpoints", "t")
  assert sorted(int(d) for d in os.listdir(ckdir) if d.isdigit()) == [5, 10]
  for root, _, files in os.walk(os.path.join(ckdir, "10", "state")):
    for f in files:  # Garble every file of the newest state checkpoint.
      with open(os.path.join(root, f), "wb") as fh:
        fh.write(b"garbage")
  mesh = mesh_lib.make_mesh({"data": 8, "model": 1})
  _, state, shardings = trainer.make_state(_task(digits_dir), Runtime(mesh, RULES), seed=0)
  step, _, extra = ckpt_lib.Checkpointer(ckdir).restore(
      ckpt_lib.abstract_with_shardings(state, shardings))
  assert step == 5 and extra["data_step"] == 5
  # And a restarted run resumes from step 5 and finishes.
  result = _train(_task(digits_dir), wd, {"data": 8, "model": 1}, 10)
  assert result.resumed_from_step == 5


def test_nan_stops_with_clear_error_and_keeps_last_good_checkpoint(digits_dir, tmp_path):
  base = judge_lib.make_loss(4)

  def nan_after_step_3(model, batch, rng, aux):
    loss, m = base(model, batch, rng, aux)
    bad = batch["label"][0] < 0  # Never true on its own; see the data source below.
    return jax.numpy.where(bad, jax.numpy.nan, loss), m

  class Poisoned(mnist.BatchSource):
    def batch(self, step):
      out = super().batch(step)
      if step >= 7:
        out["label"] = out["label"].copy()
        out["label"][0] = -1
      return out

  train = mnist.load_mnist("train", digits_dir)
  task = _task(digits_dir, loss_fn=nan_after_step_3, data=Poisoned(train, 32, 0))
  wd = str(tmp_path / "nan")
  with pytest.raises(FloatingPointError, match="loss is nan at step 8.*step 5"):
    _train(task, wd, {"data": 8, "model": 1}, 20)
  assert ckpt_lib.Checkpointer(os.path.join(wd, "checkpoints", "t")).all_steps() == [5]


def test_sigterm_saves_checkpoint_and_stops(digits_dir, tmp_path):
  class Killer(mnist.BatchSource):
    def batch(self, step):
      if step == 3:
        os.kill(os.getpid(), signal.SIGTERM)
      return super().batch(step)

  train = mnist.load_mnist("train", digits_dir)
  wd = str(tmp_path / "term")
  with pytest.raises(trainer.Preempted, match="stopped at step 4"):
    _train(_task(digits_dir, data=Killer(train, 32, 0)), wd, {"data": 8, "model": 1}, 50,
           checkpoint_every=100)
  assert ckpt_lib.Checkpointer(os.path.join(wd, "checkpoints", "t")).all_steps() == [4]
