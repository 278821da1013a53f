"""The interface every debate game implements; rollout, search, self-play and tournaments are
written against it and nothing else (in the style of pgx's `core.Env`).

A game splits what one debate is about from where it stands:
- an *example*: per-game constants (for MNIST the image, its candidate pixels, both seats'
  claims, who moves first), built once in numpy; the search keeps it out of its tree;
- a *state*: what moves change (for MNIST the revealed pixels and the move count); small, because
  tree search stores one per node.
Every method works on one game (`jax.vmap` runs a batch) and is pure JAX over fixed shapes.
Examples, states and observations may be any pytree of arrays (NamedTuples read best); the
engine never reads a field by name. Search, greedy and self-play debaters read the observation's
`example` and `state` (see `Observation`): a game whose debaters may see everything returns
`Observation(example, state, seat)` from `observe`.

Turns come from the game, never from a fixed schedule: rollout and search ask `current_seat`
before every move and stop a game once `terminated` (games may end before `max_turns`, and a
seat may move twice in a row).

Seats are symmetric: seat 0 and seat 1 each hold a claim; which one tells the truth is in the
example (`truth_seat`) for the metrics only, never read by debaters, the judge or the verdict.
"""
from __future__ import annotations

from typing import Any, NamedTuple, Protocol

import jax
import jax.numpy as jnp

SEATS = 2


class Game(Protocol):
  """A debate game. `num_actions` and `max_turns` are static ints."""
  name: str
  num_actions: int
  max_turns: int

  def init(self, example) -> Any:
    """The state before the first move."""

  def step(self, example, state, action: jax.Array) -> Any:
    """The state after the seat to move plays `action` (a legal one)."""

  def legal_mask(self, example, state) -> jax.Array:
    """bool [num_actions]."""

  def current_seat(self, example, state) -> jax.Array:
    """int32, the seat to move (0 or 1)."""

  def turn(self, example, state) -> jax.Array:
    """int32, moves played so far (so at most `max_turns - turn` are left: the search's depth)."""

  def terminated(self, example, state) -> jax.Array:
    """bool: no more moves (at the latest after `max_turns` of them)."""

  def observe(self, example, state, seat) -> Any:
    """What a debater in `seat` may see (a pytree of arrays)."""

  def judge_view(self, example, state) -> tuple:
    """What the judge sees: the positional arguments of `judge_apply(params, *view)`."""

  def claims(self, example, state) -> jax.Array:
    """int32 [2]: each seat's claim (the protocol's verdict reads them); a game where a
    debater picks its side makes it part of the state."""

  def truth_seat(self, example, state) -> jax.Array:
    """int32, the seat whose claim is true (at `state`: in the open protocols a debater picks
    its side): read by the metrics only, never by debaters, the judge or the verdict."""

  def random_completion(self, rng: jax.Array, example, state) -> Any:
    """The terminal state reached by uniformly random legal moves."""

  def leaf_judge(self, judge_apply) -> Any:
    """An exact, faster way to judge many leaves of one search (or None): see
    `debate/search/evaluators.py`."""

  def render(self, example, transcript: dict, i: int) -> dict:
    """Game i of a played batch (numpy) as one JSON-able transcript row."""

  # Optional: `prior(example, state) -> float32 [num_actions]`, a cheap heuristic score of each
  # move for the seat to move, higher is better (for text, how much a quote bears on the
  # question and the mover's claim). The `heuristic` debater plays its best legal move; a game
  # without one cannot use it.


class Observation(NamedTuple):
  """What a debater who may see everything observes; search and greedy debaters read `example`
  and `state` to simulate the game."""
  example: Any
  state: Any
  seat: jax.Array
  # Per-action features the engine computes for networks that ask for them
  # (`debate.debaters.simple.move_hints`: greedy's judge response to every legal move), or None.
  hints: Any = None


class Transcript(NamedTuple):
  """A batch of played games, as returned by `debate.rollout.play` (leading dim B)."""
  actions_BxT: jax.Array        # int32, the move of each turn (-1 after the game ended)
  seats_BxT: jax.Array          # int32, who made it (-1 after the game ended)
  moved_BxT: jax.Array          # bool, a move was made (the game had not ended)
  policy_BxTxA: jax.Array       # float32, the mover's action weights (search: visit shares)
  value_BxT: jax.Array          # float32, the mover's value estimate, in [-1, 1]
  judge_logits_BxTxC: jax.Array  # float32, the judge's logits after each move (after the end:
                                 # the final position's)
  final_logits_BxC: jax.Array   # float32, the judge's logits on the final position (the verdict's)
  claims_Bx2: jax.Array         # int32, each seat's claim at the end (open protocols pick them)
  seat0_wins_B: jax.Array       # bool, the verdict
  seat0_margin_B: jax.Array     # float32, how far the judge leans to seat 0
  honest_wins_B: jax.Array      # bool, the verdict seen by the metrics (truth_seat known)
  margin_B: jax.Array           # float32, how far the judge leans to the honest seat


def generic_random_completion(game: Game, rng: jax.Array, example, state):
  """Random legal moves until the game ends (`max_turns` steps at most)."""

  def body(t, carry):
    state, rng = carry
    rng, key = jax.random.split(rng)
    done = game.terminated(example, state)
    legal = game.legal_mask(example, state)
    action = jnp.argmax(jnp.where(legal, jax.random.gumbel(key, legal.shape), -jnp.inf))
    new = game.step(example, state, action)
    return jax.tree.map(lambda a, b: jnp.where(done, a, b), state, new), rng

  return jax.lax.fori_loop(0, game.max_turns, body, (state, rng))[0]


class GameDefaults:
  """Methods a game may inherit when its example holds `claims_2` and `truth_seat` (the claims
  are fixed before play): those two read from the example, random completion by random legal
  moves, no exact leaf judge."""

  def claims(self, example, state) -> jax.Array:
    return example.claims_2

  def truth_seat(self, example, state) -> jax.Array:
    return example.truth_seat

  def random_completion(self, rng: jax.Array, example, state) -> Any:
    return generic_random_completion(self, rng, example, state)

  def leaf_judge(self, judge_apply) -> Any:
    return None
