"""A small game of our own, written against `debate/games/base.py` and `debate/tasks/base.py`
alone, to show that every part of the engine takes any game: rollout, greedy, MCTS, self-play,
the tournament, verdict tables, the RL reward and distillation.

Majority bits: an example hides `n` bits; the claims are "the majority bit is 0" and "... is 1".
A move reveals one hidden bit; the judge sees only the revealed bits and believes each claim in
proportion to how many revealed bits back it. The turn schedule is the example's own: seats move
in the order of `schedule_T` (a seat may move twice in a row) and the game ends after `length`
moves (games of one batch may have different lengths).
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from debate.games.base import GameDefaults, Observation
from debate.selfplay.learner import make_network
from debate.tasks import base as task_base

BITS = 7
MAX_TURNS = 5


class Example(NamedTuple):
  bits_N: jax.Array        # int32 0/1, hidden from the judge
  schedule_T: jax.Array    # int32, the seat that makes move t
  length: jax.Array        # int32, moves in this game (<= MAX_TURNS)
  claims_2: jax.Array
  truth_seat: jax.Array


class State(NamedTuple):
  revealed_N: jax.Array
  num_moves: jax.Array


class MajorityBits(GameDefaults):
  name = "majority_bits"
  num_actions = BITS
  max_turns = MAX_TURNS

  def init(self, example):
    return State(jnp.zeros(BITS, jnp.bool_), jnp.int32(0))

  def step(self, example, state, action):
    hit = jnp.arange(BITS) == action
    return State(state.revealed_N | hit, state.num_moves + 1)

  def legal_mask(self, example, state):
    return ~state.revealed_N & ~self.terminated(example, state)

  def current_seat(self, example, state):
    return example.schedule_T[jnp.minimum(state.num_moves, MAX_TURNS - 1)]

  def turn(self, example, state):
    return state.num_moves

  def terminated(self, example, state):
    return state.num_moves >= example.length

  def observe(self, example, state, seat):
    return Observation(example, state, jnp.asarray(seat, jnp.int32))

  def judge_view(self, example, state):
    return (jnp.where(state.revealed_N, example.bits_N, -1),)  # Hidden bits read -1.

  def render(self, example, transcript, i):
    return {"bits": np.asarray(example.bits_N[i]).tolist(),
            "moves": [{"seat": int(s), "bit": int(a)} for s, a, m in zip(
                transcript["seats_BxT"][i], transcript["actions_BxT"][i],
                transcript["moved_BxT"][i]) if m]}


def judge_apply(params, view_BxN):
  """Logit of claim c: `params` x (revealed bits equal to c)."""
  counts = jnp.stack([(view_BxN == 0).sum(-1), (view_BxN == 1).sum(-1)], -1)
  return params * counts.astype(jnp.float32)


class MajorityTask(task_base.TaskDefaults):
  """`bits_NxB` examples, all with one turn schedule and length (or one per example)."""
  name = "majority_bits"
  num_claims = 2

  def __init__(self, bits_NxB, schedule_T=(0, 1, 0, 1, 0), length=3):
    self.bits = np.asarray(bits_NxB, np.int32)
    n = len(self.bits)
    self.schedule = np.broadcast_to(np.asarray(schedule_T, np.int32), (n, MAX_TURNS)).copy()
    self.length = np.broadcast_to(np.asarray(length, np.int32), (n,)).copy()
    self.game = MajorityBits()

  def __len__(self):
    return len(self.bits)

  def truth(self, ids):
    return (self.bits[np.asarray(ids)].sum(-1) * 2 > BITS).astype(np.int32)

  def examples(self, key):
    ids = np.asarray(key.example_id)
    # The example's first mover: its schedule from `first` (seat 0's schedule, mirrored).
    schedule = np.where(np.asarray(key.first)[:, None] == 0, self.schedule[ids],
                        1 - self.schedule[ids])
    return Example(self.bits[ids], schedule.astype(np.int32), self.length[ids],
                   np.asarray(key.claims_2, np.int32), np.asarray(key.truth_seat, np.int32))

  def inputs(self, ids):
    return {"bits": self.bits[np.asarray(ids)].astype(np.float32)}


def random_bits(n: int, seed: int, margin: int = 3) -> np.ndarray:
  """n examples whose majority leads by at least `margin` bits. In a 3-move game (first mover,
  other, first mover) the first mover wins by revealing its own bits when it has two (a 5-2
  split, margin 3); with margin 5 (6-1 or 7-0) the truth wins whoever moves first."""
  rng = np.random.default_rng(seed)
  out = []
  while len(out) < n:
    b = rng.integers(0, 2, BITS)
    if abs(2 * b.sum() - BITS) >= margin:
      out.append(b)
  return np.stack(out).astype(np.int32)


# What self-play trains for this game, and the models the uses of debate train on its inputs.

class PolicyValue(nnx.Module):
  """An MLP over a game's features (here: bits as +-1, revealed mask, own and other claim): a
  logit per action and a value."""

  def __init__(self, features: int = 3 * BITS + 6, actions: int = BITS, hidden: int = 32, *,
               rngs: nnx.Rngs):
    self.h = nnx.Linear(features, hidden, rngs=rngs)
    self.policy = nnx.Linear(hidden, actions, rngs=rngs)
    self.value = nnx.Linear(hidden, 1, rngs=rngs)

  def __call__(self, x):
    h = nnx.relu(self.h(x))
    return self.policy(h), jnp.tanh(self.value(h)[:, 0])


def evaluate(net, obs):
  ex, st = obs.example, obs.state
  take = lambda s: jnp.take_along_axis(ex.claims_2, s[:, None], 1)[:, 0]
  onehot = lambda c: jax.nn.one_hot(jnp.where(c < 0, 2, c), 3)
  revealed = st.revealed_N.astype(jnp.float32)
  x = jnp.concatenate([2.0 * ex.bits_N - 1.0, revealed, revealed * (2.0 * ex.bits_N - 1.0),
                       onehot(take(obs.seat)), onehot(take(1 - obs.seat))], -1)
  logits, value = net(x)
  legal = jax.vmap(MajorityBits().legal_mask)(ex, st)
  return jnp.where(legal, logits, -jnp.inf), value


def network():
  return make_network(lambda rngs: PolicyValue(rngs=rngs), evaluate,
                      MajorityBits().current_seat)


class Scorer(nnx.Module):
  """A linear model on the bits: a logit per claim (the RL policy, the distilled reward model)."""

  def __init__(self, *, rngs: nnx.Rngs):
    self.out = nnx.Linear(BITS, 2, rngs=rngs)

  def __call__(self, bits):
    return self.out(bits)
