"""What the search asks of a leaf: its value and its children's prior, for any game.

Leaf evaluators (`evaluator`):
- `rollout`: the judge's verdict after a uniformly random completion of the game (the paper's).
- `judge`: how far the judge leans on the partial view (tanh of its margin), as if the game
  ended there.
- `net`: a learned value (`Guide`); only terminal states are judged.
Priors (`prior`): `uniform` over legal moves, or `net` (the learned policy).
A terminal state always takes the judge's verdict: that is the game's outcome. Values are +1/-1
for the seat to move; two-player zero-sum backup is mctx's discount of -1 between plies.

Only the games that need the judge in a simulation step are judged, in one call (`leaf_value`);
when the game offers an exact incremental judge for many leaves of one root (`Game.leaf_judge`),
leaves are judged from the root's cache.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import mctx

from debate.debaters.base import Env, call_guide, for_seat
from debate.search import mcts

# Leaf values: a random completion judged ("rollout"), the judge on the partial view ("judge":
# tanh of its margin), the network's value head ("net"), or their mean ("mixed", AlphaGo's
# mixing of a value network with an evaluation, weight 1/2).
EVALUATORS = ("rollout", "judge", "net", "mixed")
PRIORS = ("uniform", "net")

# A learned guide: (net_params, example_B, state_B) -> (prior logits_BxA, value_B for the seat
# to move, in [-1, 1]).
Guide = Callable[[Any, Any, Any], tuple[jax.Array, jax.Array]]


class Root(NamedTuple):
  """What every leaf of one search shares: the games, the leaf judge's root data, the guide's
  parameters; and, per simulation, which games reached a terminal state judged before, with its
  reward."""
  example: Any
  aux: Any = None
  net_params: Any = None
  seen_B: Any = None
  seen_reward_B: Any = None


# From this many simulations per move, a leaf judge that offers it (`deltas=True` in its `root`)
# builds leaves from each legal move's change computed once per search rather than per leaf.
# Whole games of the first such game on this CPU: 14% faster at 200 simulations, 11% slower at
# 100 (docs/BENCHMARKS.md, `--parts leaf_paths`).
DELTAS_FROM_SIMULATIONS = 200


def make_root(env: Env, example_B, state_B, deltas: bool = True, net_params=None) -> Root:
  lj = env.game.leaf_judge(env.judge_apply)
  if lj is None:
    return Root(example_B, net_params=net_params)
  return Root(example_B, lj.root(env.judge_params, example_B, state_B, deltas),
              net_params=net_params)


def leaf_value(env: Env, root: Root, leaf_B, left, need_B: jax.Array,
               buckets: int = 4, with_margin: bool = False):
  """Seat 0's verdict (+1/-1) on leaf states `leaf_B` where `need_B` (0 elsewhere), each at most
  `left` moves past the root; with `with_margin`, also the judge's seat-0 margin. Only the games
  that need it are judged, in one call: gathered to the front, rounded up to a multiple of
  1 / `buckets` of the batch (one static size per bucket, chosen by a `switch`); the whole batch
  without gathering."""
  n_games = need_B.shape[0]
  step = -(-n_games // buckets)
  sizes = sorted({min(step * (i + 1), n_games) for i in range(buckets)})
  count = need_B.sum()
  order = jnp.argsort(~need_B, stable=True)  # Games to judge first.
  zeros = lambda: (jnp.zeros(n_games, jnp.float32),) * (2 if with_margin else 1)

  def first(size: int):
    def fn():
      if size == n_games:  # Everyone, without gathering.
        return tuple(jnp.where(need_B, x, 0.0) for x in _judge(env, root, leaf_B, left,
                                                                with_margin=with_margin))
      rows = order[:size]
      values = _judge(env, root, jax.tree.map(lambda x: x[rows], leaf_B), left, rows,
                      with_margin)
      keep = jnp.arange(size) < count
      return tuple(z.at[jnp.where(keep, rows, n_games)].set(v, mode="drop")
                   for z, v in zip(zeros(), values))
    return fn

  bucket = jnp.searchsorted(jnp.asarray([0] + sizes), count, side="left")
  out = jax.lax.switch(bucket, [zeros] + [first(m) for m in sizes])
  return out if with_margin else out[0]


def _judge(env: Env, root: Root, leaf_B, left, rows_B: jax.Array | None = None,
           with_margin: bool = False) -> tuple:
  """(verdicts[, margins]) on `leaf_B`, leaf b a state of game `rows_B[b]` (default: game b)."""
  example = root.example if rows_B is None else jax.tree.map(lambda x: x[rows_B], root.example)
  if root.aux is None:
    logits = env.logits(example, leaf_B)
  else:
    if rows_B is None:
      rows_B = jnp.arange(need_rows(leaf_B))
    lj = env.game.leaf_judge(env.judge_apply)
    logits = lj.logits(root.aux, example, leaf_B, rows_B, left)
  verdict = env.seat0_value_of_logits(example, leaf_B, logits)
  return (verdict, env.seat0_margin(example, leaf_B, logits)) if with_margin else (verdict,)


def need_rows(tree) -> int:
  return jax.tree.leaves(tree)[0].shape[0]


def completion(env: Env, rng, example_B, state_B):
  """A uniformly random completion of every game (keys per game: `Env.split`)."""
  rngs = env.split(rng, need_rows(state_B))
  return jax.vmap(env.game.random_completion)(rngs, example_B, state_B)


def rollout_value(rng, env: Env, example_B, state_B) -> jax.Array:
  """Value for the seat to move: the verdict after a random completion (one judge call)."""
  final = completion(env, rng, example_B, state_B)
  return for_seat(env.seat0_value(example_B, final), env.seat(example_B, state_B))


def uniform_prior(env: Env, example_B, state_B) -> jax.Array:
  return jnp.where(env.legal(example_B, state_B), 0.0, mcts.ILLEGAL)


def make_recurrent_fn(env: Env, left, *, evaluator: str = "rollout", guide: Guide | None = None,
                      prior: str = "uniform", judge_buckets: int = 4):
  game = env.game

  def recurrent_fn(root: Root, rng, action, state):
    example = root.example
    mover = env.seat(example, state)
    done_before = jax.vmap(game.terminated)(example, state)
    new = env.step(example, state, action)
    terminal = jax.vmap(game.terminated)(example, new)
    seen, seen_reward = root.seen_B, root.seen_reward_B
    if seen is None:  # Called outside `search`: nothing was judged before.
      seen, seen_reward = jnp.zeros_like(terminal), jnp.zeros(terminal.shape)
    net_prior = net_value = None
    if guide is not None and (evaluator in ("net", "mixed") or prior == "net"):
      net_prior, net_value = call_guide(guide, root.net_params, example, new, env)
    if evaluator == "rollout":
      final = completion(env, rng, example, new)
      leaf = jax.tree.map(lambda a, b: jnp.where(
          terminal.reshape(terminal.shape + (1,) * (a.ndim - 1)), a, b), new, final)
      need = ~seen
    elif evaluator in ("judge", "mixed"):
      leaf, need = new, ~seen
    else:
      leaf, need = new, terminal & ~seen
    if evaluator in ("judge", "mixed"):
      v0, margin0 = leaf_value(env, root, leaf, left, need, judge_buckets, with_margin=True)
    else:
      v0 = leaf_value(env, root, leaf, left, need, judge_buckets)
    reward = jnp.where(terminal & ~done_before, for_seat(v0, mover), 0.0)
    reward = jnp.where(seen, seen_reward, reward)
    to_move = env.seat(example, new)
    if evaluator == "net":
      value = jnp.where(terminal, 0.0, net_value)
    elif evaluator == "judge":  # How far the partial view leans, squashed to [-1, 1].
      value = jnp.where(terminal, 0.0, for_seat(jnp.tanh(margin0), to_move))
    elif evaluator == "mixed":
      value = jnp.where(terminal, 0.0,
                        0.5 * (net_value + for_seat(jnp.tanh(margin0), to_move)))
    else:
      value = jnp.where(terminal, 0.0, for_seat(v0, to_move))
    discount = jnp.where(terminal, 0.0, -1.0)
    logits = uniform_prior(env, example, new)
    if prior == "net":
      logits = jnp.where(logits > mcts.ILLEGAL / 2, net_prior, mcts.ILLEGAL)
    out = mctx.RecurrentFnOutput(reward=reward, discount=discount, prior_logits=logits,
                                 value=value)
    return out, new

  return recurrent_fn


def search_tree(rng, env: Env, example_B, state_B, num_simulations: int, c_puct: float = 1.0,
                judge_buckets: int = 4, leaf_deltas: bool | None = None, *,
                evaluator: str = "rollout", prior: str = "uniform", guide: Guide | None = None,
                net_params=None) -> mctx.Tree:
  """The search tree of one move for every game of the batch (all at the same move);
  `judge_buckets`: `leaf_value`'s batch sizes; `leaf_deltas`: leaves from per-move changes
  computed once per search (default: from `DELTAS_FROM_SIMULATIONS`). Neither changes the
  tree, only its cost."""
  if leaf_deltas is None:
    leaf_deltas = num_simulations >= DELTAS_FROM_SIMULATIONS
  root_rng, search_rng = jax.random.split(rng)
  legal = env.legal(example_B, state_B)
  logits = uniform_prior(env, example_B, state_B)
  if evaluator in ("net", "mixed") or prior == "net":
    net_logits, net_value = call_guide(guide, net_params, example_B, state_B, env)
    if prior == "net":
      logits = jnp.where(legal, net_logits, mcts.ILLEGAL)
  if evaluator == "rollout":
    value = rollout_value(root_rng, env, example_B, state_B)
  elif evaluator in ("judge", "mixed"):
    margin0 = env.seat0_margin(example_B, state_B, env.logits(example_B, state_B))
    value = for_seat(jnp.tanh(margin0), env.seat(example_B, state_B))
    if evaluator == "mixed":
      value = 0.5 * (net_value + value)
  else:
    value = net_value
  root = mctx.RootFnOutput(prior_logits=logits, value=value, embedding=state_B)
  # Moves left (the same for every game of the batch): simulations stop at the game's end.
  left = env.game.max_turns - jnp.max(jax.vmap(env.game.turn)(example_B, state_B))
  recurrent = make_recurrent_fn(env, left, evaluator=evaluator, guide=guide, prior=prior,
                                judge_buckets=judge_buckets)
  return mcts.search(make_root(env, example_B, state_B, leaf_deltas, net_params), search_rng,
                     root=root, recurrent_fn=recurrent, num_simulations=num_simulations,
                     max_depth=left, invalid_actions=~legal, c_puct=c_puct, split=env.split,
                     uniform_prior=prior == "uniform")
