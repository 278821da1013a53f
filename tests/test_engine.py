"""The engine: verdicts kept across the refactor, learned policies legal, Elo, self-play."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from debate import protocols, rollout
from debate.debaters import make_debater
from debate.games import mnist_pixels as g
from debate.train import trainer
from judges import mnist_judge as judge_lib
from debate.games import mnist_network
from models import policy_value as pv

# Played by the engine before it became game-generic (commit 2bc0fe4, `rollout.make_player` with
# `make_debater(name, sims=16)`), on the games of `_golden_games` with the tiny judge of seed 11.
GOLDEN = {  # (first seat, precommit, honest, liar) -> (slots per game, honest wins)
    (0, True, "mcts", "mcts"): (
        [[12, 3, 10, 7], [1, 5, 4, 9], [10, 3, 7, 8], [0, 9, 1, 8], [1, 3, 2, 5], [6, 12, 19, 9]],
        [0, 0, 1, 0, 0, 0]),
    (0, True, "greedy", "random"): (
        [[5, 13, 6, 3], [0, 1, 17, 8], [10, 8, 2, 0], [1, 16, 5, 15], [2, 15, 11, 5], [4, 17, 16, 18]],
        [1, 1, 1, 1, 1, 1]),
    (0, False, "mcts", "mcts"): (
        [[3, 0, 9, 7], [17, 5, 4, 9], [3, 7, 10, 8], [0, 9, 12, 3], [2, 3, 12, 5], [1, 12, 18, 9]],
        [0, 0, 0, 0, 0, 0]),
    (0, False, "greedy", "random"): (
        [[5, 13, 10, 3], [0, 1, 17, 8], [10, 8, 1, 0], [1, 16, 5, 15], [13, 15, 9, 5], [0, 17, 16, 18]],
        [0, 1, 0, 1, 0, 0]),
    (1, True, "mcts", "mcts"): (
        [[7, 4, 3, 10], [2, 14, 3, 0], [5, 7, 2, 1], [8, 13, 11, 0], [7, 2, 4, 11], [11, 19, 12, 4]],
        [1, 0, 1, 0, 0, 1]),
    (1, True, "greedy", "random"): (
        [[8, 5, 0, 6], [10, 0, 1, 17], [9, 6, 8, 10], [2, 1, 17, 14], [4, 0, 14, 6], [13, 19, 17, 18]],
        [0, 1, 1, 1, 1, 1]),
    (1, False, "mcts", "mcts"): (
        [[7, 0, 4, 3], [2, 14, 3, 0], [10, 3, 2, 7], [8, 13, 11, 0], [14, 1, 4, 11], [2, 5, 16, 15]],
        [0, 0, 0, 0, 0, 0]),
    (1, False, "greedy", "random"): (
        [[8, 7, 0, 10], [10, 0, 1, 17], [9, 10, 8, 1], [2, 1, 17, 11], [4, 14, 1, 7], [13, 19, 17, 1]],
        [0, 1, 0, 1, 0, 0]),
}


def _golden_games():
  rng = np.random.default_rng(21)
  images = np.zeros((6, 28, 28), np.float32)
  for im in images:
    idx = rng.choice(784, size=int(rng.integers(10, 25)), replace=False)
    im.reshape(-1)[idx] = rng.uniform(0.1, 1.0, len(idx))
  labels = rng.integers(0, 10, 6).astype(np.int32)
  lies = ((labels + 1 + rng.integers(0, 9, 6)) % 10).astype(np.int32)
  return images, labels, lies


def _tiny_judge(seed=11):
  arch = judge_lib.get_arch("tiny")
  params = trainer.init_params(lambda r: judge_lib.SparseJudge(arch, rngs=r),
                               jax.random.PRNGKey(seed))
  return judge_lib.make_apply(arch), params


@pytest.mark.parametrize("first,precommit", [
    # All slow: the generic engine's own tests cover this in the default suite.
    pytest.param(0, True, marks=pytest.mark.slow), pytest.param(1, False, marks=pytest.mark.slow),
    pytest.param(0, False, marks=pytest.mark.slow), pytest.param(1, True, marks=pytest.mark.slow)])
def test_refactored_engine_plays_the_old_engines_games(first, precommit):
  apply, params = _tiny_judge()
  images, labels, lies = _golden_games()
  examples = g.make_examples(images, labels, lies if precommit else np.full(6, g.NO_CLAIM),
                             first, 32)
  game = g.MnistPixels(4, 32)
  protocol = protocols.Protocol(precommit=precommit, first=first)
  for honest, liar in (("mcts", "mcts"), ("greedy", "random")):
    d = [make_debater(n, game, protocol, apply, sims=16) for n in (honest, liar)]
    player = rollout.make_player(None, game=game, protocol=protocol, debaters=d,
                                 judge_apply=apply)
    out = jax.device_get(player(jax.random.PRNGKey(5), params, (None, None), examples))
    slots, wins = GOLDEN[first, precommit, honest, liar]
    assert out.actions_BxT.tolist() == slots, (honest, liar)
    assert out.honest_wins_B.astype(int).tolist() == wins, (honest, liar)


@pytest.mark.parametrize("name", [pytest.param("learned", marks=pytest.mark.slow),
                                  pytest.param("learned_mcts", marks=pytest.mark.slow)])
def test_learned_policy_never_puts_mass_on_illegal_moves(name):
  apply, params = _tiny_judge()
  images, labels, lies = _golden_games()
  examples = jax.tree.map(jnp.asarray, g.make_examples(images, labels, lies, 0, 32))
  arch = pv.get_arch("tiny")
  guide = mnist_network.make_guide(arch)
  net = trainer.init_params(lambda r: pv.PolicyValueNet(arch, rngs=r), jax.random.PRNGKey(0))
  game = g.MnistPixels(4, 32)
  d = make_debater(name, game, protocols.Protocol(), apply, sims=8, guide=guide)
  move = jax.jit(d.apply)
  state = jax.vmap(g.initial_state)(examples)
  for t in range(4):
    legal = jax.vmap(g.legal)(examples, state)
    obs = jax.vmap(game.observe)(examples, state, jnp.full(6, t % 2))
    out = move({"judge": params, "net": net}, jax.random.PRNGKey(t), obs, legal)
    assert bool(jnp.all(jnp.take_along_axis(legal, out.action_B[:, None], 1)))
    assert float(jnp.abs(jnp.where(legal, 0.0, out.weights_BxA)).max()) == 0.0
    np.testing.assert_allclose(np.asarray(out.weights_BxA.sum(-1)), 1.0, rtol=1e-5)
    logits, _ = guide(net, examples, state)
    assert bool(jnp.all(jnp.isneginf(jnp.where(legal, -jnp.inf, logits))))
    state = jax.vmap(g.apply_move)(state, out.action_B)


def test_soft_greedy_teacher_is_greedy_scores_over_legal_moves():
  """Self-play's warm-start teacher: weights are softmax(margin / T) over legal moves only (zero
  on illegal ones), their argmax is greedy's move, and sampled moves are legal."""
  from debate.debaters.simple import make_greedy
  apply, params = _tiny_judge()
  images, labels, lies = _golden_games()
  examples = jax.tree.map(jnp.asarray, g.make_examples(images, labels, lies, 0, 32))
  game = g.MnistPixels(4, 32)
  hard = jax.jit(make_greedy(game, protocols.Protocol(), apply).apply)
  soft = jax.jit(make_greedy(game, protocols.Protocol(), apply, temperature=0.5,
                             sample=True).apply)
  state = jax.vmap(g.initial_state)(examples)
  for t in range(4):
    legal = jax.vmap(g.legal)(examples, state)
    obs = jax.vmap(game.observe)(examples, state, jnp.full(6, t % 2))
    h = hard({"judge": params}, jax.random.PRNGKey(t), obs, legal)
    s = soft({"judge": params}, jax.random.PRNGKey(t), obs, legal)
    assert float(jnp.abs(jnp.where(legal, 0.0, s.weights_BxA)).max()) == 0.0
    np.testing.assert_allclose(np.asarray(s.weights_BxA.sum(-1)), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(jnp.argmax(s.weights_BxA, -1)),
                                  np.asarray(h.action_B))
    assert bool(jnp.all(jnp.take_along_axis(legal, s.action_B[:, None], 1)))
    assert len(np.unique(np.asarray(s.weights_BxA).round(6))) > 2  # Soft, not one-hot.
    state = jax.vmap(g.apply_move)(state, s.action_B)
