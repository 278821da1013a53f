"""Self-play: a short run makes the learned debater beat random more often; a killed run resumes
to the same network as an uninterrupted one."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from debate import protocols
from debate.selfplay import loop
from debate.tasks.mnist import MnistTask
from debate.train import mesh as mesh_lib
from debate.train import trainer
from debate.games import mnist_network
from debate.train.runtime import Runtime
from models import policy_value as pv


def brightness_judge(params, mask_BxHxW, image_BxHxW):
  """Label 0 gains from revealed bright pixels, label 1 from dim ones; other labels never win."""
  del params
  s = (mask_BxHxW * (image_BxHxW - 0.5)).reshape(mask_BxHxW.shape[0], -1).sum(-1)
  logits = jnp.full((mask_BxHxW.shape[0], 10), -100.0)
  return logits.at[:, 0].set(s).at[:, 1].set(-s)


class TwoClaimTask(MnistTask):
  """Games between labels 0 and 1 only, the truth in a random seat."""

  def sample_keys(self, rng, n, precommit, first):
    key = super().sample_keys(rng, n, precommit, first)
    truth = self.labels[key.example_id]
    claims = np.where(key.truth_seat[:, None] == 0, np.stack([truth, 1 - truth], 1),
                      np.stack([1 - truth, truth], 1))
    return key._replace(claims_2=claims.astype(np.int32))


def _task(n=64, seed=0):
  rng = np.random.default_rng(seed)
  images = np.zeros((n, 28, 28), np.float32)
  for im in images:
    idx = rng.choice(784, size=24, replace=False)
    im.reshape(-1)[idx] = rng.choice([0.2, 0.95], size=24)
  return TwoClaimTask(images, rng.integers(0, 2, n).astype(np.int32), k=4)


def _run(tmp, iterations, algorithm="alphazero", stop_after=None, evaluate=None,
         eval_every=0, games=64, evaluator="judge", arch="tiny", teacher=0):
  task = _task()
  arch = pv.get_arch(arch)
  settings = loop.Settings(iterations=iterations, games=games, sims=8, updates=16, batch_size=64,
                           learning_rate=3e-3, replay_capacity=1024, algorithm=algorithm,
                           evaluator=evaluator, teacher_iterations=teacher,
                           teacher_temperature=0.05,
                           population_every=iterations, play_batch=games)
  return loop.train(task=task, protocols=[protocols.Protocol(True, 0),
                                          protocols.Protocol(True, 1)],
                    judge_apply=brightness_judge, judge_params=jnp.zeros(()),
                    network=mnist_network.network(arch), settings=settings,
                    runtime=Runtime.local(data=2),
                    workdir=str(tmp), evaluate=evaluate, eval_every=eval_every,
                    stop_after=stop_after)


@pytest.mark.slow
def test_short_selfplay_beats_random_more_often(tmp_path):
  task = _task(seed=1)  # Held-out images.
  arch = pv.get_arch("tiny")
  mesh = mesh_lib.make_mesh({"data": 2, "model": 1}, jax.devices()[:2])
  evaluate = loop.make_evaluator(task, protocols.Protocol(True, 0), brightness_judge,
                                 jnp.zeros(()), mnist_network.make_guide(arch), Runtime(mesh), 64,
                                 against=("random",))
  net0 = trainer.init_params(lambda r: pv.PolicyValueNet(arch, rngs=r), jax.random.PRNGKey(0))
  before = evaluate(net0, 0)
  out = _run(tmp_path, 12)
  after = evaluate(out["params"], 12)
  score = lambda m: m["eval/random/learned_honest_wins"] + m["eval/random/learned_liar_wins"]
  assert score(after) >= score(before) + 0.25, (before, after)
  assert out["history"][-1]["policy_loss"] < out["history"][0]["policy_loss"]


def test_killed_selfplay_resumes_to_the_uninterrupted_network(tmp_path):
  kw = dict(algorithm="policy_gradient", games=16)
  whole = _run(tmp_path / "whole", 3, **kw)
  with pytest.raises(trainer.Preempted):
    _run(tmp_path / "killed", 3, stop_after=2, **kw)
  resumed = _run(tmp_path / "killed", 3, **kw)
  assert resumed["resumed_from"] == 2
  for a, b in zip(jax.tree.leaves(whole["params"]), jax.tree.leaves(resumed["params"])):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  np.testing.assert_array_equal(whole["replay"]["value"], resumed["replay"]["value"])
  assert len(loop.population(str(tmp_path / "killed"))) == 1


def test_move_hints_point_at_greedys_move_and_never_at_illegal_ones():
  from debate.debaters.base import Env
  from debate.debaters.simple import move_hints
  from debate.debaters import make_debater
  task = _task(n=16, seed=3)
  key = task.sample_keys(np.random.default_rng(0), 16, True, 0)
  ex = jax.tree.map(jnp.asarray, task.examples(key))
  st = jax.vmap(task.game.init)(ex)
  st = jax.vmap(task.game.step)(ex, st, jnp.argmax(jax.vmap(task.game.legal_mask)(ex, st), -1))
  proto = protocols.Protocol(True, 0)
  env = Env(task.game, proto, brightness_judge, jnp.zeros(()))
  hints = np.asarray(move_hints(env, ex, st))
  legal = np.asarray(jax.vmap(task.game.legal_mask)(ex, st))
  assert (hints[~legal] == 0).all() and (hints[legal] > 0).all() and (hints <= 1).all()
  greedy = make_debater("greedy", task.game, proto, brightness_judge)
  seat = jax.vmap(task.game.current_seat)(ex, st)
  from debate.games.base import Observation
  out = greedy.apply({"judge": jnp.zeros(())}, jax.random.PRNGKey(0), Observation(ex, st, seat),
                     jnp.asarray(legal))
  np.testing.assert_array_equal(hints[np.arange(16), np.asarray(out.action_B)], 1.0)


@pytest.mark.slow
def test_a_network_that_reads_move_hints_trains_on_the_hints_of_its_positions(tmp_path):
  """Two teacher iterations (sharp soft greedy) with the greedy-plane network: every replay
  position carries the hints of its state, and the network alone then plays only legal moves."""
  out = _run(tmp_path, 2, arch="tiny_greedy", teacher=2, games=32)
  buf = out["replay"]
  n = int(buf["size"])
  assert "hints" in buf and n > 0
  from debate.debaters.base import Env
  from debate.debaters.simple import move_hints
  task = _task()
  ex = jax.tree.map(jnp.asarray, task.examples(jax.tree.map(lambda x: x[:n], buf["key"])))
  st = jax.tree.map(lambda x: jnp.asarray(x[:n]), buf["state"])
  # The buffer's games alternate first movers; precommit margins read only the claims.
  env = Env(task.game, protocols.Protocol(True, 0), brightness_judge, jnp.zeros(()))
  np.testing.assert_allclose(buf["hints"][:n], np.asarray(move_hints(env, ex, st)), atol=1e-5)
  from debate.debaters.learned import make_learned
  net = mnist_network.network(pv.get_arch("tiny_greedy"))
  d = make_learned(net.guide, game=task.game, protocol=protocols.Protocol(True, 0),
                   judge_apply=brightness_judge)
  from debate.games.base import Observation
  seat = jax.vmap(task.game.current_seat)(ex, st)
  legal = jax.vmap(task.game.legal_mask)(ex, st)
  act = d.apply({"judge": jnp.zeros(()), "net": out["params"]}, jax.random.PRNGKey(0),
                Observation(ex, st, seat), legal).action_B
  live = np.asarray(legal.any(-1))
  assert np.asarray(legal)[np.arange(n), np.asarray(act)][live].all()
