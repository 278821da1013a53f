"""A recursive game of our own, written against `debate/games/base.py` and `debate/tasks/base.py`
alone: bisection debate over a short computation (Irving et al. 2018, section 2's complexity
argument), to show that a game whose claim splits into sub-claims fits the Game interface and
that rollout, search, self-play and Elo take it unchanged.

The computation: x_{t+1} = (A x_t + B) mod M, T steps from x_0 (T = 4 or 8 per example, so games
have different depths). Each seat claims the final value x_T; one claim is true. The seat that
moves first defends its claim; the other challenges it. A recursion step is two moves: the
defender states the value at the midpoint of the disputed interval [lo, hi] (a sub-claim, one of
M moves), the challenger picks the half to pursue (move 0: [lo, mid], move 1: [mid, hi]). When
hi - lo = 1 the game ends and the judge checks that one step: f(v_lo) == v_hi keeps the defender's
claim, otherwise the challenger's wins. The judge checks exactly one step, whatever T.

Each seat prepared a trace ending at its claim: the true trace, or (the liar's) one that follows
the truth up to a corrupted step and is consistent with f after it, so exactly one step is wrong.
`prior` plays a seat's own trace: the defender states its trace's midpoint value, the challenger
pursues the half where the defender's sub-claim differs from its own trace.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from debate.games.base import Observation, generic_random_completion
from debate.selfplay.learner import make_network
from debate.tasks import base as task_base
from tests.toy_game import PolicyValue

M = 16          # states and claims
A, B = 5, 3     # the step: x -> (A x + B) mod M (A odd: a bijection mod 16)
A_INV = pow(A, -1, M)
T_MAX = 8
MAX_TURNS = 2 * 3  # log2(T_MAX) recursion steps of two moves


def step_np(x):
  return (A * np.asarray(x) + B) % M


class Example(NamedTuple):
  x0: jax.Array            # int32
  steps: jax.Array         # int32, T (4 or 8)
  traces_2xT: jax.Array    # int32 [2, T_MAX + 1], each seat's prepared trace (padded)
  claims_2: jax.Array      # int32, each seat's final value
  truth_seat: jax.Array    # int32, metrics only
  first: jax.Array         # int32, the defender


class State(NamedTuple):
  lo: jax.Array
  hi: jax.Array
  v_lo: jax.Array          # the value at lo (agreed: x0, or a sub-claim kept by the challenger)
  v_hi: jax.Array          # the defender's value at hi
  mid_value: jax.Array     # the defender's sub-claim at the midpoint (phase 1)
  phase: jax.Array         # 0: the defender states the midpoint; 1: the challenger picks a half
  num_moves: jax.Array


class Bisection:
  name = "bisection_toy"
  num_actions = M
  max_turns = MAX_TURNS

  def init(self, example):
    z = jnp.int32(0)
    return State(z, example.steps, example.x0,
                 example.claims_2[example.first], z, z, z)

  def step(self, example, state, action):
    action = jnp.asarray(action, jnp.int32)
    mid = (state.lo + state.hi) // 2
    split = state._replace(mid_value=action, phase=jnp.int32(1))
    left = state.phase == 1
    pick_left = left & (action == 0)
    pick_right = left & (action == 1)
    picked = State(jnp.where(pick_right, mid, state.lo), jnp.where(pick_left, mid, state.hi),
                   jnp.where(pick_right, state.mid_value, state.v_lo),
                   jnp.where(pick_left, state.mid_value, state.v_hi),
                   state.mid_value, jnp.int32(0), state.num_moves)
    out = jax.tree.map(lambda a, b: jnp.where(left, a, b), picked, split)
    return out._replace(num_moves=state.num_moves + 1)

  def legal_mask(self, example, state):
    halves = jnp.arange(M) < 2
    mask = jnp.where(state.phase == 0, jnp.ones(M, bool), halves)
    return mask & ~self.terminated(example, state)

  def current_seat(self, example, state):
    return jnp.where(state.phase == 0, example.first, 1 - example.first)

  def turn(self, example, state):
    return state.num_moves

  def terminated(self, example, state):
    return state.hi - state.lo <= 1

  def observe(self, example, state, seat):
    return Observation(example, state, jnp.asarray(seat, jnp.int32))

  def judge_view(self, example, state):
    """One step and the two claims: (v_lo, v_hi, defender's claim, challenger's claim, leaf)."""
    d = example.first
    return (state.v_lo, state.v_hi, example.claims_2[d], example.claims_2[1 - d],
            self.terminated(example, state))

  def claims(self, example, state):
    return example.claims_2

  def truth_seat(self, example, state):
    return example.truth_seat

  def random_completion(self, rng, example, state):
    return generic_random_completion(self, rng, example, state)

  def leaf_judge(self, judge_apply):
    return None

  def prior(self, example, state):
    seat = self.current_seat(example, state)
    own = example.traces_2xT[seat]
    mid = (state.lo + state.hi) // 2
    state_move = jax.nn.one_hot(own[mid], M)
    pick = jnp.where(state.mid_value != own[mid], 0, 1)  # pursue the half that disagrees
    return jnp.where(state.phase == 0, state_move, jax.nn.one_hot(pick, M))

  def render(self, example, transcript, i):
    return {"x0": int(example.x0[i]), "steps": int(example.steps[i]),
            "moves": [{"seat": int(s), "move": int(a)} for s, a, m in zip(
                transcript["seats_BxT"][i], transcript["actions_BxT"][i],
                transcript["moved_BxT"][i]) if m]}


def judge_apply(params, v_lo, v_hi, claim_defender, claim_challenger, leaf):
  """Checks one step: the defender's claim if f(v_lo) == v_hi, else the challenger's; no opinion
  before the last step."""
  ok = (A * v_lo + B) % M == v_hi
  winner = jnp.where(ok, claim_defender, claim_challenger)
  return params * jax.nn.one_hot(winner, M) * leaf[..., None].astype(jnp.float32)


def corrupted_trace(x0: int, steps: int, claim: int, corrupt: int) -> np.ndarray:
  """The trace that follows the truth up to step `corrupt`, then runs backwards from `claim` so
  that every later step is right: exactly step corrupt -> corrupt + 1 is wrong (for a false
  claim)."""
  out = np.zeros(T_MAX + 1, np.int64)
  out[0] = x0
  for t in range(steps):
    out[t + 1] = step_np(out[t])
  out[steps] = claim
  for t in range(steps - 1, corrupt, -1):
    out[t] = (A_INV * (out[t + 1] - B)) % M
  out[steps + 1:] = claim
  return out


class BisectionTask(task_base.TaskDefaults):
  name = "bisection_toy"
  num_claims = M

  def __init__(self, n: int, seed: int, steps=(4, 8)):
    rng = np.random.default_rng(seed)
    self.x0 = rng.integers(0, M, n).astype(np.int32)
    self.steps = rng.choice(np.asarray(steps), n).astype(np.int32)
    self.corrupt_seed = seed
    self.game = Bisection()

  def __len__(self):
    return len(self.x0)

  def truth(self, ids):
    ids = np.asarray(ids)
    x = self.x0[ids].astype(np.int64)
    for t in range(T_MAX):
      x = np.where(t < self.steps[ids], step_np(x), x)
    return x.astype(np.int32)

  def corrupt_step(self, ids, claims):
    """Where a false claim's trace goes wrong: a fixed pseudo-random step per (example, claim)."""
    return (np.asarray(ids) * 7 + np.asarray(claims) * 3 + self.corrupt_seed) % \
        self.steps[np.asarray(ids)]

  def examples(self, key):
    ids = np.asarray(key.example_id)
    claims = np.asarray(key.claims_2, np.int32)
    truth = self.truth(ids)
    traces = np.zeros((len(ids), 2, T_MAX + 1), np.int32)
    for i, e in enumerate(ids):
      for s in range(2):
        c = claims[i, s] if claims[i, s] >= 0 else truth[i]
        k = int(self.corrupt_step(e, c)) if c != truth[i] else self.steps[e]
        traces[i, s] = corrupted_trace(int(self.x0[e]), int(self.steps[e]), int(c), k)
    return Example(self.x0[ids], self.steps[ids], traces, claims,
                   np.asarray(key.truth_seat, np.int32), np.asarray(key.first, np.int32))


def evaluate(net, obs):
  """The network (`tests.toy_game.PolicyValue`, an MLP) reads the disputed interval, the
  sub-claim on the table and the mover's own trace at the midpoint."""
  ex, st = obs.example, obs.state
  game = Bisection()
  mid = (st.lo + st.hi) // 2
  own = jnp.take_along_axis(ex.traces_2xT, obs.seat[:, None, None], 1)[:, 0]
  own_mid = jnp.take_along_axis(own, mid[:, None], 1)[:, 0]
  oh = lambda v: jax.nn.one_hot(v, M)
  x = jnp.concatenate([oh(own_mid), oh(st.mid_value), oh(st.v_lo), oh(st.v_hi),
                       st.phase[:, None].astype(jnp.float32),
                       (st.lo / T_MAX)[:, None], (st.hi / T_MAX)[:, None]], -1)
  logits, value = net(x)
  legal = jax.vmap(game.legal_mask)(ex, st)
  return jnp.where(legal, logits, -jnp.inf), value


def network():
  return make_network(lambda rngs: PolicyValue(4 * M + 3, M, rngs=rngs), evaluate,
                      Bisection().current_seat)
