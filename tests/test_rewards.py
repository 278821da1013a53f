"""Uses of debate: rewards equal verdicts, RL learns from a good reward only, distillation."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from debate import rewards
from debate.data import mnist
from debate.train import mesh as mesh_lib
from debate.train import trainer
from debate import distill as distill_lib
from debate import rl
from debate.tasks.mnist import MnistTask
from debate.train.batches import BatchSource
from debate.train.runtime import Runtime
from models.mnist_cnn import PolicyNet
from tests.test_debate import A, B, C, D, E, HONEST_FORCED, image_with, linear_judge


def _task(images, labels, k):
  return MnistTask(np.asarray(images, np.float32), np.asarray(labels, np.int32), k)


def test_debate_reward_equals_the_games_verdict():
  task = _task(np.stack([image_with([A, B, C, D, E])] * 2), [0, 0], k=2)
  settings = rewards.DebateSettings(debater="mcts", sims=64, batch_size=2)
  w = jnp.asarray(HONEST_FORCED)
  # Claim 0 (logit 0 = sum of weights) moving first has a forced win: open with A.
  res = rewards.debate_verdicts(task, linear_judge, w, [0, 1], [0, 0], [1, 1], settings)
  assert res["a_wins"].all() and (res["margin"] > 0).all()
  # Claim 1 moving first against claim 0 loses whatever it does: 0 answers with A.
  res = rewards.debate_verdicts(task, linear_judge, w, [0, 1], [1, 1], [0, 0], settings)
  assert not res["a_wins"].any()
  np.testing.assert_array_equal(res["a_wins"], res["margin"] > 0)


def test_verdict_table_and_rl_reward_read_the_same_verdicts():
  # Pixels A..E; labels 0 and 1 as in the linear judge; every other label has logit -10, so
  # a lie other than 1 always loses to the truth 0, and lie 1 loses because 0 has a forced win
  # when 1 moves first.
  task = _task(np.stack([image_with([A, B, C, D, E])]), [0], k=2)
  settings = rewards.DebateSettings(debater="greedy", batch_size=16)
  out = rewards.verdict_table(task, linear_judge, jnp.asarray(HONEST_FORCED), [0], settings)
  table = out["table_NxC"]
  assert table[0].tolist() == [True] + [False] * 9
  assert out["best_lie"][0] == 1
  loss_fn = rl.make_rl_loss("debate", None, None, 0.0)
  for label in (0, 1, 7):
    always = lambda image, label=label: jnp.full((image.shape[0], 10), -1e4).at[:, label].set(1e4)
    _, m = loss_fn(always, {"inputs": {"image": np.zeros((1, 28, 28), np.uint8)},
                            "table": table}, jax.random.PRNGKey(0), None)
    assert float(m["reward"]) == float(table[0, label])


def _rl_accuracy(digits_dir, tmp_path, source, steps=60):
  train = mnist.load_mnist("train", digits_dir)
  test = mnist.load_mnist("test", digits_dir)
  data = {"inputs": {"image": train["image"]}, "label": train["label"]}
  acc = rl.policy_accuracy_fn(lambda r: PolicyNet(rngs=r), {"image": test["image"]},
                              test["label"])
  task = trainer.TrainTask(init_model=lambda r: PolicyNet(rngs=r),
                           loss_fn=rl.make_rl_loss(source, None, None, 0.01),
                           optimizer=optax.adam(3e-3), data=BatchSource(data, 64, 0),
                           eval_fn=acc, name=f"rl_{source}")
  mesh = mesh_lib.make_mesh({"data": 8, "model": 1})
  res = trainer.train(task, runtime=Runtime(mesh), steps=steps, seed=0,
                      workdir=str(tmp_path / source), log_every=20, checkpoint_every=1000,
                      eval_every=steps)
  return acc(trainer.init_params(lambda r: PolicyNet(rngs=r), jax.random.PRNGKey(0)),
             0)["accuracy"], res.eval_history[-1]["accuracy"]


@pytest.mark.slow  # RL learning from the debate reward runs in the default suite on the toy game.
def test_rl_learns_from_a_perfect_reward_not_from_a_random_one(digits_dir, tmp_path):
  start, truth = _rl_accuracy(digits_dir, tmp_path, "truth")
  _, noise = _rl_accuracy(digits_dir, tmp_path, "random")
  assert truth > 0.45 and truth > start + 0.3, (start, truth)
  assert noise < start + 0.15, (start, noise)


@pytest.fixture(scope="module")
def real_table(mnist_dir, tmp_path_factory):
  """Real debates on real MNIST: a small judge at k=12, 9 games per image (random debaters keep
  this cheap; the verdicts are still the game's verdicts)."""
  from tests.conftest import train_small_judge
  apply, judge = train_small_judge(mnist_dir, str(tmp_path_factory.mktemp("judge")), k=12,
                                   steps=200)
  train = mnist.load_mnist("train", mnist_dir)
  images_u8, labels = train["image"][:1000], train["label"][:1000]
  settings = rewards.DebateSettings(debater="random", batch_size=3000)
  task = _task(mnist.to_float(images_u8), labels, k=12)
  t = rewards.verdict_table(task, apply, judge.params, np.arange(1000), settings)
  return images_u8, labels, t["table_NxC"]


@pytest.mark.slow
def test_distilled_model_learns_the_verdicts_and_round_trips(real_table, tmp_path):
  images_u8, labels, table = real_table
  from ml_collections import ConfigDict
  config = ConfigDict({"width": 16, "dense": 64, "learning_rate": 2e-3, "batch_size": 64,
                       "seed": 0, "steps": 200, "log_every": 50, "checkpoint_every": 1000,
                       "sharding": {"rules": [], "batch_axes": ("data",)}})
  mesh = mesh_lib.make_mesh({"data": 8, "model": 1})
  n_train = 800
  meta = {"module": "models.mnist_cnn:RewardModel", "kwargs": {"width": 16, "dense": 64}}
  res = distill_lib.train_reward_model(config, str(tmp_path), Runtime(mesh),
                                       {"image": images_u8[:n_train]}, table[:n_train], meta)
  from debate.train.writers import read_metrics
  rows = read_metrics(str(tmp_path / "metrics_reward_model.jsonl"))
  assert rows[-1]["loss"] < rows[0]["loss"] - 0.1
  rewards.save_reward_model(str(tmp_path), res.params, meta)
  model = rewards.load_reward_model(str(tmp_path))
  m = distill_lib.evaluate(model, {"image": images_u8[n_train:]}, labels[n_train:],
                           table[n_train:])
  assert m["agreement"] > m["majority_baseline_agreement"] + 0.01, m
  assert m["balanced_agreement"] > 0.7, m
  # Round trip: the loaded model scores exactly like the trained parameters in memory.
  direct = rewards.ScoredRewardModel(res.params, meta)
  batch, lab = {"image": images_u8[n_train:]}, labels[n_train:]
  np.testing.assert_array_equal(direct.score(batch, lab), model.score(batch, lab))
  for a, b in zip(jax.tree.leaves(res.params), jax.tree.leaves(model.params)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_loading_a_missing_reward_model_is_a_clear_error(tmp_path):
  from debate.config import ConfigError
  with pytest.raises(ConfigError, match="holds no reward model"):
    rewards.load_reward_model(str(tmp_path))


def test_truth_entry_follows_the_papers_rule_the_liar_wins_if_any_liar_wins(monkeypatch):
  """Image 0: the truth (3) beats the judge's favourite lie (1) but loses to lie 5. Under the
  paper's rule its entry is a loss; read against the best lie alone it was a win."""
  class Task:
    num_claims = 10

    def truth(self, ids):
      return np.full(len(ids), 3)

    def judge_probs(self, apply, params, ids, rng):
      return np.eye(10)[np.full(len(ids), 1)]  # The judge favours 1 on every image.

  def verdicts(task, apply, params, ids, claim_a, claim_b, settings, mesh, seed):
    return {"a_wins": (np.asarray(claim_a) == 5) & (np.asarray(ids) == 0), "judge_calls": 1}
  monkeypatch.setattr(rewards, "debate_verdicts", verdicts)
  settings = rewards.DebateSettings(debater="greedy")
  paper = rewards.verdict_table(Task(), None, None, [0, 1], settings)["table_NxC"]
  best = rewards.verdict_table(Task(), None, None, [0, 1], settings,
                               truth_rule="best_lie")["table_NxC"]
  assert paper[0].tolist() == [False] * 5 + [True] + [False] * 4  # Lie 5 won; the truth lost.
  assert paper[1].tolist() == [False] * 3 + [True] + [False] * 6  # No lie won: the truth did.
  assert best[0, 3] and (best[:, 5] == paper[:, 5]).all()


def test_every_sampled_claim_gets_its_own_judge_view_and_reward():
  # The judge "sees" one random view per call: here it answers the view's seed-driven claim, so
  # K samples of one example must be scored against K different views, not one view repeated.
  def judge_alone(aux, inputs, rng):
    n = inputs["x"].shape[0]
    picks = jax.random.randint(rng, (n,), 0, 3)
    return jax.nn.one_hot(picks, 3) * 10.0

  always_0 = lambda x: jnp.zeros((x.shape[0], 3)).at[:, 0].set(1e4)
  batch = {"inputs": {"x": jnp.zeros((2, 1))}}
  loss_fn = rl.make_rl_loss("judge", judge_alone, None, 0.0, samples=400)
  _, m = loss_fn(always_0, batch, jax.random.PRNGKey(0), None)
  # 800 independent views each agree with claim 0 a third of the time (one view: 0 or 1).
  assert abs(float(m["reward"]) - 1 / 3) < 0.06, m
  with pytest.raises(Exception, match="samples=0"):
    rl.make_rl_loss("truth", None, None, 0.0, samples=0)


def test_truth_rules_read_the_same_games_differently():
  # Image 0 (truth 2): lie 7 beat it, the judge's favourite lie 4 did not; image 1 (truth 0):
  # no lie won.
  table = np.zeros((2, 10), bool)
  table[0, 7] = True
  paper = rewards.with_truth_rule(table, [2, 0], [4, 1], "paper")
  best = rewards.with_truth_rule(table, [2, 0], [4, 1], "best_lie")
  assert not paper[0, 2] and best[0, 2]  # the paper's rule: any lie that wins takes the image
  assert paper[1, 0] and best[1, 0]
  np.testing.assert_array_equal(np.delete(paper, [2], 1)[0], np.delete(table, [2], 1)[0])
  with pytest.raises(Exception, match="truth_rule"):
    rewards.with_truth_rule(table, [2, 0], [4, 1], "mean")
