"""The MNIST debate game, verdict rules, debaters (forced wins), MCTS scaling and sharding."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from debate import metrics as metrics_lib, protocols, rollout
from debate.config import ConfigError
from debate.debaters import make_debater
from debate.debaters.base import Debater, Env, one_hot_output
from debate.games import mnist_pixels as g
from debate.train import mesh as mesh_lib
from debate.train.runtime import Runtime


def linear_judge(params, mask_BxHxW, image_BxHxW):
  """A hand-made judge: logit 0 is the sum of the revealed pixels' weights, logit 1 is 0."""
  del image_BxHxW
  score = (mask_BxHxW.reshape(mask_BxHxW.shape[0], -1) * params.reshape(1, -1)).sum(-1)
  logits = jnp.full((mask_BxHxW.shape[0], 10), -10.0)
  return logits.at[:, 0].set(score).at[:, 1].set(0.0)


def image_with(pixels):
  img = np.zeros((28, 28), np.float32)
  for p in pixels:
    img[p // 28, p % 28] = 0.8
  return img


HONEST, LIAR = 0, 1  # The truth sits in seat 0 in these tests.


def games_for(images, first, labels=None, lie=1):
  n = len(images)
  labels = np.zeros(n, np.int32) if labels is None else labels
  return g.make_examples(np.stack(images), labels, np.full(n, lie, np.int32), first, 32)


def named(name, **kw):
  """A debater factory: (game, protocol, judge_apply) -> Debater."""
  return lambda game, protocol, judge: make_debater(name, game, protocol, judge, **kw)


def fixed(pick):
  """A debater that plays `pick(legal_BxA)`, ignoring everything else."""
  def factory(game, protocol, judge):
    def apply(params, rng, obs, legal, *, batch_axes=()):
      return one_hot_output(pick(legal), legal.shape[-1])
    return Debater(pick.__name__, apply)
  return factory


def player_for(games, honest, liar, k, precommit=True, mesh=None, judge=None):
  game = g.MnistPixels(k, games.cand_P.shape[1])
  protocol = protocols.Protocol(precommit=precommit, first=int(games.first[0]))
  judge = judge or linear_judge
  return rollout.make_player(Runtime(mesh), game=game, protocol=protocol,
                             debaters=(honest(game, protocol, judge), liar(game, protocol, judge)),
                             judge_apply=judge)


def play(games, weights, honest, liar, k, precommit=True, seed=0, mesh=None):
  out = jax.device_get(player_for(games, honest, liar, k, precommit, mesh)(
      jax.random.PRNGKey(seed), jnp.asarray(weights), (None, None), games))._asdict()
  out["pixels_BxK"] = g.MnistPixels(k, 32).pixels(games, out["actions_BxT"])
  out["mask_BxHxW"] = g.MnistPixels(k, 32).final_mask(games, out["actions_BxT"])
  return out


def _lowest(legal):
  return jnp.argmax(legal, axis=-1)


def _highest(legal):
  return legal.shape[-1] - 1 - jnp.argmax(legal[:, ::-1], axis=-1)


lowest, highest = fixed(_lowest), fixed(_highest)


@pytest.mark.parametrize("first", [HONEST, LIAR])
@pytest.mark.parametrize("name", ["random", "greedy", "mcts"])
def test_legal_moves_exactly_k_reveals(name, first):
  rng = np.random.default_rng(0)
  images = [image_with(rng.choice(784, size=rng.integers(8, 20), replace=False))
            for _ in range(8)]
  weights = rng.normal(size=784).astype(np.float32)
  d = named(name, sims=16)
  out = play(games_for(images, first), weights, d, d, k=6)
  for i, im in enumerate(images):
    px = out["pixels_BxK"][i]
    assert len(set(px.tolist())) == 6  # Never the same pixel twice.
    assert (im.reshape(-1)[px] > 0).all()  # Only nonzero pixels.
    assert out["mask_BxHxW"][i].sum() == 6 and (out["mask_BxHxW"][i].reshape(-1)[px]).all()


@pytest.mark.parametrize("first", [HONEST, LIAR])
def test_alternation_and_first_mover(first):
  # Honest always takes the lowest free candidate, the liar the highest: the transcript shows who
  # moved when.
  pixels = list(range(100, 110))
  games = games_for([image_with(pixels)], first)
  out = play(games, np.zeros(784, np.float32), lowest, highest, k=5)
  # The rollout takes turns from the game (the example's first mover), never from a schedule.
  players = out["seats_BxT"][0].tolist()
  assert players == [first, 1 - first, first, 1 - first, first]
  lo, hi = iter(pixels), iter(reversed(pixels))
  expected = [next(lo) if p == HONEST else next(hi) for p in players]
  assert out["pixels_BxK"][0].tolist() == expected


def test_verdict_rules_on_hand_made_logits():
  pre, open_ = protocols.Protocol(precommit=True), protocols.Protocol(precommit=False)
  claims = jnp.array([3, 5])  # Seat 0 claims 3, seat 1 claims 5 (precommit).
  no_claim = jnp.array([3, protocols.NO_CLAIM])
  logits = jnp.zeros(10).at[3].set(1.0).at[5].set(2.0)
  assert not pre.seat0_wins(logits, claims)  # The other claim has the higher logit.
  assert not open_.seat0_wins(logits, no_claim)  # Argmax 5 is not seat 0's claim.
  logits = jnp.zeros(10).at[3].set(2.0).at[5].set(1.0).at[7].set(3.0)
  assert pre.seat0_wins(logits, claims)  # Only the two claims count...
  assert not open_.seat0_wins(logits, no_claim)  # ...but any other argmax loses without them.
  assert float(pre.seat0_margin(logits, claims)) == 1.0
  assert float(open_.seat0_margin(logits, no_claim)) == -1.0
  logits = jnp.zeros(10).at[3].set(3.0)
  assert open_.seat0_wins(logits, no_claim)
  tie = jnp.zeros(10)
  assert not pre.seat0_wins(tie, claims)  # Ties go to seat 1.
  # Seats are symmetric: the truth in seat 1 is honest's win when seat 1 wins.
  ex = g.make_examples(np.stack([image_with([1, 2])]), np.array([3]), np.array([5]), 1, 32,
                       truth_seat=1)
  assert ex.claims_2.tolist() == [[5, 3]] and ex.truth_seat.tolist() == [1]


# Candidate pixels a..e with weights toward honest. k = 2, honest moves first.
A, B, C, D, E = 200, 300, 400, 500, 600


def weights_of(values):
  w = np.zeros(784, np.float32)
  for p, v in values.items():
    w[p] = v
  return w


HONEST_FORCED = weights_of({A: 5, B: -3, C: -2, D: 1, E: -1})  # Honest must open with A.
LIAR_FORCED = weights_of({A: 5, B: -6, C: 1, D: 0.5, E: -0.5})  # Liar must answer with B.


@pytest.mark.parametrize("name", ["greedy", "mcts"])
def test_honest_finds_forced_win(name):
  games = games_for([image_with([A, B, C, D, E])] * 4, HONEST)
  good = named(name, sims=64)
  out = play(games, HONEST_FORCED, good, named("greedy"), k=2)
  assert out["honest_wins_B"].all()
  assert (out["pixels_BxK"][:, 0] == A).all()
  # The same liar beats an honest side that does not search.
  weak = play(games, HONEST_FORCED, highest, named("greedy"), k=2)
  assert not weak["honest_wins_B"].any()


@pytest.mark.parametrize("name", ["greedy", pytest.param("mcts", marks=pytest.mark.slow)])
def test_liar_finds_forced_win(name):
  games = games_for([image_with([A, B, C, D, E])] * 4, HONEST)
  good = named(name, sims=64)
  for honest in (named("greedy"), named("mcts", sims=64)):
    out = play(games, LIAR_FORCED, honest, good, k=2)
    assert not out["honest_wins_B"].any()
    assert (out["pixels_BxK"][:, 1] == B).all()
  # A liar that does not search loses the same position.
  weak = play(games, LIAR_FORCED, named("greedy"), highest, k=2)
  assert weak["honest_wins_B"].all()


@pytest.mark.slow
def test_more_simulations_never_play_worse():
  rng = np.random.default_rng(1)
  images = [image_with(rng.choice(784, size=12, replace=False)) for _ in range(48)]
  games = games_for(images, HONEST)
  weights = rng.normal(size=784).astype(np.float32) - 0.1
  liar = named("greedy")
  rates = {}
  for sims in (2, 8, 64):
    rates[sims] = np.mean([play(games, weights, named("mcts", sims=sims), liar, k=4,
                                seed=s)["honest_wins_B"].mean() for s in range(3)])
  assert rates[64] >= rates[8] >= rates[2] - 0.02, rates
  assert rates[64] > rates[2], rates


def test_sharded_verdicts_equal_single_device():
  rng = np.random.default_rng(2)
  images = [image_with(rng.choice(784, size=15, replace=False)) for _ in range(16)]
  games = games_for(images, LIAR)
  weights = rng.normal(size=784).astype(np.float32)
  mesh = mesh_lib.make_mesh({"data": 8, "model": 1})
  d = named("mcts", sims=12)
  single = play(games, weights, d, d, k=4, seed=3)
  sharded = play(games, weights, d, d, k=4, seed=3, mesh=mesh)
  np.testing.assert_array_equal(single["honest_wins_B"], sharded["honest_wins_B"])
  np.testing.assert_array_equal(single["pixels_BxK"], sharded["pixels_BxK"])


@pytest.mark.slow
@pytest.mark.parametrize("deltas_from", [0, 10 ** 9])
def test_sharded_incremental_judge_plays_the_same_games(deltas_from, monkeypatch):
  """Each shard searches its own games (shard_map) with the incremental judge, whose leaves are
  gathered per shard: the same moves and verdicts as one device, and a random debater's moves
  are the whole batch's draw too. Leaves from per-pixel changes (deltas_from 0) or not."""
  from debate.search import evaluators
  from debate.train import trainer
  monkeypatch.setattr(evaluators, "DELTAS_FROM_SIMULATIONS", deltas_from)
  from judges import mnist_judge as judge_lib
  arch = judge_lib.get_arch("tiny")
  params = trainer.init_params(lambda r: judge_lib.SparseJudge(arch, rngs=r), jax.random.PRNGKey(2))
  apply = judge_lib.make_apply(arch)
  rng = np.random.default_rng(7)
  images = [image_with(rng.choice(784, size=20, replace=False)) for _ in range(16)]
  games = games_for(images, LIAR, labels=rng.integers(0, 10, 16).astype(np.int32), lie=9)
  mesh = mesh_lib.make_mesh({"data": 8, "model": 1})
  outs = []
  for m in (None, mesh):
    player = player_for(games, named("mcts", sims=12), named("random"), 4, mesh=m, judge=apply)
    outs.append(jax.device_get(player(jax.random.PRNGKey(4), params, (None, None), games)))
  np.testing.assert_array_equal(outs[0].actions_BxT, outs[1].actions_BxT)
  np.testing.assert_array_equal(outs[0].honest_wins_B, outs[1].honest_wins_B)


def test_paper_protocol_the_liar_wins_if_any_liar_wins():
  class Labels:  # A task, as far as `lies_for` reads one.
    num_claims = 10

    def truth(self, ids):
      return np.array([3, 7, 1])[ids]

  paper = protocols.Protocol(precommit=True, lies="paper", seeds=3)
  soft = protocols.Protocol(precommit=True, lies="all_lies_mean_margin", seeds=3)
  key = protocols.lies_for(Labels(), np.arange(3), paper)
  lb, lies, ids = key.claims_2[:, 0], key.claims_2[:, 1], key.example_id
  assert len(lies) == 27 and (key.truth_seat == 0).all() and set(lies[:9]) == set(range(10)) - {3}
  assert (lb[9:18] == 7).all() and (ids == np.repeat(np.arange(3), 9)).all()
  margins = np.ones((3, 27), np.float32)  # 3 seeds x 27 games, honest margins.
  # Image 0: one lie wins 2 of its 3 seeds, yet its mean margin stays positive (+1/3).
  margins[:, 2] = [-0.5, -0.5, 2.0]
  # Image 1: a different lie wins in each seed (no lie wins on its mean).
  margins[0, 10], margins[1, 13], margins[2, 16] = -0.1, -0.1, -0.1
  # Image 2: honest wins every game.
  _, paper_wins = protocols.per_example_honest_wins(paper, margins > 0, margins, ids)
  assert paper_wins.tolist() == [[False, False, True], [False, False, True], [True, False, True]]
  rate, ci = protocols.rate_over_examples(paper_wins)
  assert rate == pytest.approx((1 / 3 + 0 + 1) / 3)
  # The interval counts 3 images, not 9 (seed, image) outcomes: it is the Wilson interval of
  # 4/3 successes in 3.
  assert ci == pytest.approx(metrics_lib.wilson_ci(4 / 3, 3))
  # The softer rule counts image 0 as won (its lie's mean margin is positive), and image 1 too.
  _, soft_wins = protocols.per_example_honest_wins(soft, margins > 0, margins, ids)
  assert soft_wins.tolist() == [[True, True, True]]
  with pytest.raises(ConfigError, match="'all_lies_strict' is now 'paper'"):
    protocols.Protocol(precommit=True, lies="all_lies_strict")


def _puct_qtransform(tree, node_index):
  """AlphaZero's PUCT Q for mctx's selection: the mean value, 0 for unvisited, illegal masked."""
  q = jnp.where(tree.children_visits[node_index] > 0, tree.qvalues(node_index), 0.0)
  return jnp.where(tree.children_prior_logits[node_index] > -5e8, q, -1e9)


def test_batched_search_builds_mctx_tree():
  """Our search (one PUCT function for every depth, batched backward pass, terminal states
  judged once) grows exactly the tree `mctx.search` grows with mctx's PUCT selection."""
  import functools
  import mctx
  from debate.search import evaluators, mcts
  rng = np.random.default_rng(4)
  images = [image_with(rng.choice(784, size=int(rng.integers(5, 20)), replace=False))
            for _ in range(6)]
  games = jax.tree.map(jnp.asarray, games_for(images, LIAR))
  env = Env(g.MnistPixels(4, 32), protocols.Protocol(precommit=True, first=LIAR), linear_judge,
            jnp.asarray(rng.normal(size=784).astype(np.float32)))
  state = jax.vmap(g.initial_state)(games)
  legal = jax.vmap(g.legal)(games, state)
  root = mctx.RootFnOutput(prior_logits=evaluators.uniform_prior(env, games, state),
                           value=evaluators.rollout_value(jax.random.PRNGKey(0), env, games,
                                                          state),
                           embedding=state)
  kw = dict(params=evaluators.Root(games), rng_key=jax.random.PRNGKey(1), root=root,
            recurrent_fn=evaluators.make_recurrent_fn(env, 4), num_simulations=40, max_depth=4,
            invalid_actions=~legal)
  ours = mcts.search(**kw, c_puct=1.0)
  select = functools.partial(mctx._src.action_selection.muzero_action_selection, pb_c_init=1.0,
                             pb_c_base=1e12, qtransform=_puct_qtransform)
  kw["root"] = root.replace(prior_logits=jnp.where(~legal, -jnp.inf, root.prior_logits))
  theirs = mctx._src.search.search(**kw, root_action_selection_fn=functools.partial(
      select, depth=0), interior_action_selection_fn=select)
  for field in ("node_visits", "node_values", "parents", "children_index", "children_visits",
                "children_values"):
    np.testing.assert_allclose(getattr(ours, field), getattr(theirs, field), rtol=1e-6,
                               err_msg=field)
  assert int(ours.node_visits[:, 0].min()) == 41  # Every simulation reached the root.
  # Some simulations ended on a terminal state judged before (ours does not judge it again).
  assert int((ours.node_visits[:, 1:] > 0).sum(-1).min()) < 40


@pytest.mark.parametrize("name,deltas_from", [
    pytest.param("mcts", 0, marks=pytest.mark.slow),
    pytest.param("mcts", 10 ** 9, marks=pytest.mark.slow),
    # Slow too: test_judge checks the incremental judge equals the network, in the default suite.
    pytest.param("greedy", 0, marks=pytest.mark.slow)])
def test_incremental_judge_plays_the_same_games(name, deltas_from, monkeypatch):
  """MCTS leaves (and greedy's one-move positions, legal moves only) judged incrementally from
  the root's cache: the same moves and verdicts as judging every leaf with the whole network;
  with leaves built from each pixel's change computed once per search (deltas_from 0), or from
  conv2's window per new pixel."""
  from debate.search import evaluators
  from debate.train import trainer
  monkeypatch.setattr(evaluators, "DELTAS_FROM_SIMULATIONS", deltas_from)
  from judges import mnist_judge as judge_lib
  arch = judge_lib.get_arch("small")
  params = trainer.init_params(lambda r: judge_lib.SparseJudge(arch, rngs=r), jax.random.PRNGKey(5))
  apply = judge_lib.make_apply(arch)
  whole = lambda p, m, i: apply(p, m, i)  # The same network without `incremental`.
  assert getattr(whole, "incremental", None) is None
  rng = np.random.default_rng(5)
  images = [image_with(rng.choice(784, size=20, replace=False)) for _ in range(8)]
  games = games_for(images, HONEST, labels=rng.integers(0, 10, 8).astype(np.int32), lie=9)
  d = named(name, sims=24)
  outs = [jax.device_get(player_for(games, d, d, 4, judge=fn)(
      jax.random.PRNGKey(0), params, (None, None), games)) for fn in (apply, whole)]
  np.testing.assert_array_equal(outs[0].actions_BxT, outs[1].actions_BxT)
  np.testing.assert_array_equal(outs[0].honest_wins_B, outs[1].honest_wins_B)


# Slow: the default suite's MCTS forced-win tests search with leaf_value's default buckets.
@pytest.mark.parametrize("buckets", [pytest.param(1, marks=pytest.mark.slow),
                                     pytest.param(2, marks=pytest.mark.slow),
                                     pytest.param(3, marks=pytest.mark.slow),
                                     pytest.param(4, marks=pytest.mark.slow)])
def test_leaf_value_judges_exactly_the_games_that_need_it(buckets):
  """Whatever number of games need the judge (none, one, a bucket's size and one more, all),
  `leaf_value` gives their verdicts as judging the whole batch would, and 0 elsewhere."""
  from debate.search import evaluators
  from debate.train import trainer
  from judges import mnist_judge as judge_lib
  arch = judge_lib.get_arch("tiny")
  params = trainer.init_params(lambda r: judge_lib.SparseJudge(arch, rngs=r), jax.random.PRNGKey(3))
  apply = judge_lib.make_apply(arch)
  rng = np.random.default_rng(8)
  n = 10
  images = [image_with(rng.choice(784, size=12, replace=False)) for _ in range(n)]
  games = jax.tree.map(jnp.asarray, games_for(images, HONEST,
                                              labels=rng.integers(0, 10, n).astype(np.int32)))
  game = g.MnistPixels(4, 32)
  env = Env(game, protocols.Protocol(precommit=True), apply, params)
  state = jax.vmap(g.initial_state)(games)
  final = jax.vmap(game.random_completion)(jax.random.split(jax.random.PRNGKey(0), n), games,
                                           state)
  expected = np.asarray(env.seat0_value(games, final))
  assert len(set(expected.tolist())) == 2  # Both verdicts occur.
  root = evaluators.make_root(env, games, state)
  value = jax.jit(lambda need: evaluators.leaf_value(env, root, final, 4, need, buckets))
  step = -(-n // buckets)
  for count in sorted({0, 1, step, min(step + 1, n), n - 1, n}):
    need = np.zeros(n, bool)
    need[rng.choice(n, size=count, replace=False)] = True
    np.testing.assert_array_equal(value(jnp.asarray(need)), np.where(need, expected, 0.0),
                                  err_msg=f"{count} games need the judge")


def test_mixed_leaf_value_is_the_mean_of_the_value_head_and_the_judge():
  """The network-guided search's three leaf values on the same leaves: the value head ("net"),
  the judge's squashed margin on the partial view ("judge"), and their mean ("mixed")."""
  from debate.search import evaluators
  rng = np.random.default_rng(5)
  images = [image_with(rng.choice(784, size=12, replace=False)) for _ in range(4)]
  games = jax.tree.map(jnp.asarray, games_for(images, LIAR))
  env = Env(g.MnistPixels(4, 32), protocols.Protocol(precommit=True, first=LIAR), linear_judge,
            jnp.asarray(rng.normal(size=784).astype(np.float32)))
  state = jax.vmap(g.initial_state)(games)
  action = jnp.argmax(jax.vmap(g.legal)(games, state), -1)  # A legal first move each.
  guide = lambda p, ex, st: (jnp.zeros((4, 32)), jnp.array([0.4, -0.2, 0.9, 0.0]))
  values = {}
  for e in ("net", "judge", "mixed"):
    fn = evaluators.make_recurrent_fn(env, 4, evaluator=e, guide=guide, prior="net")
    out, _ = fn(evaluators.Root(games), jax.random.PRNGKey(0), action, state)
    values[e] = np.asarray(out.value)
  np.testing.assert_allclose(values["net"], [0.4, -0.2, 0.9, 0.0])
  assert np.abs(values["judge"]).max() > 0 and not np.allclose(values["judge"], values["net"])
  np.testing.assert_allclose(values["mixed"], (values["net"] + values["judge"]) / 2, rtol=1e-6)


def test_the_difference_interval_is_newcombes():
  # Newcombe (1998), Statistics in Medicine 17:873, Table II, example (a): 56/70 vs 48/80,
  # method 10 (score interval from Wilson's): 0.0524 to 0.3339.
  d, lo, hi = metrics_lib.difference_ci(56, 70, 48, 80)
  assert d == pytest.approx(0.2) and (lo, hi) == pytest.approx((0.0524, 0.3339), abs=5e-5)
  d, lo, hi = metrics_lib.difference_ci(30, 60, 30, 60)
  assert d == 0 and lo == pytest.approx(-hi) and lo < -0.1
