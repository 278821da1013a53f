"""The decoder: a judge step on a (4, 2) data x model mesh splits the attention heads and the MLP
over `model` and equals one device's step; causal padding never changes a sequence's output."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from debate import judging
from debate.train import mesh as mesh_lib
from debate.train import trainer
from debate.train.runtime import Runtime
from models.transformer import SHARDING_RULES, ChoiceHead, TransformerConfig

CFG = TransformerConfig(vocab=64, width=32, layers=2, heads=4, kv_heads=2, head_width=8,
                        mlp_width=48)


def _init(rngs):
  return ChoiceHead(CFG, (5, 6), rngs=rngs)


def _data(n=64, t=12, seed=0):
  rng = np.random.default_rng(seed)
  tokens = rng.integers(7, 64, (n, t)).astype(np.int32)
  tokens[:, -3:] *= rng.random((n, 3)) < 0.5  # Some right padding.
  return {"view": (tokens,), "target": (tokens[:, 0] % 2).astype(np.int32)}


def _steps(mesh, steps=3):
  task = trainer.TrainTask(init_model=_init, loss_fn=judging.judge_loss,
                           optimizer=__import__("optax").adam(1e-2),
                           data=judging.GroupedBatches([_data()], 32, 0), name="judge")
  functional, state, shardings = trainer.make_state(task, Runtime(mesh, tuple(SHARDING_RULES)), seed=0)
  step = trainer.make_step(task, functional, shardings, mesh_lib.batch_sharding(mesh), None)
  for s in range(steps):
    batch = mesh_lib.to_global(task.data.batch(s), mesh_lib.batch_sharding(mesh))
    state, metrics = step(state, batch, None)
  return state, metrics


@pytest.mark.slow  # (the default suite stays under 5 minutes)
def test_model_axis_splits_heads_and_mlp_and_the_step_equals_one_device():
  mesh = mesh_lib.make_mesh({"data": 4, "model": 2})
  state, metrics = _steps(mesh)
  blk = state["params"]["blocks"][0]
  q, o = blk["attn"]["q"]["kernel"], blk["attn"]["o"]["kernel"]  # (32, 32): 4 heads of 8
  assert {s.data.shape for s in q.addressable_shards} == {(32, 16)}  # 2 heads per device
  assert {s.data.shape for s in o.addressable_shards} == {(16, 32)}
  up, down = blk["mlp"]["up"]["kernel"], blk["mlp"]["down"]["kernel"]
  assert {s.data.shape for s in up.addressable_shards} == {(32, 24)}
  assert {s.data.shape for s in down.addressable_shards} == {(24, 32)}
  assert state["params"]["embed"]["embedding"].sharding.is_fully_replicated
  one, one_metrics = _steps(mesh_lib.make_mesh({"data": 1, "model": 1}, jax.devices()[:1]))
  np.testing.assert_allclose(float(metrics["loss"]), float(one_metrics["loss"]), rtol=1e-5)
  for a, b in zip(jax.tree.leaves(state["params"]), jax.tree.leaves(one["params"])):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-3, atol=1e-4)


def test_right_padding_never_changes_a_sequence_and_parameters_count_matches():
  params = trainer.init_params(_init, jax.random.PRNGKey(0))
  assert sum(x.size for x in jax.tree.leaves(params)) == CFG.params()
  f = trainer.functionalize(_init)
  tokens = jnp.asarray([[9, 10, 11, 12]], jnp.int32)
  padded = jnp.concatenate([tokens, jnp.zeros((1, 5), jnp.int32)], 1)
  np.testing.assert_allclose(f.module(params)(tokens), f.module(params)(padded), atol=1e-5)
  # Causal: a later token never changes what an earlier position computes.
  h1 = f.module(params).hidden(tokens)
  h2 = f.module(params).hidden(jnp.asarray([[9, 10, 11, 40]], jnp.int32))
  np.testing.assert_allclose(h1[:, :3], h2[:, :3], atol=1e-5)
  assert not np.allclose(h1[:, 3], h2[:, 3])
