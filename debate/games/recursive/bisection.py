"""Recursive bisection debate over a T-step computation (Irving et al. 2018, section 2), as a
`Game` the engine plays: rollout, every debater, search, self-play and tournaments take it
unchanged.

Both seats claim the value after T steps from x_0; the claims differ. The disputed interval
[lo, hi] starts at [0, T]: both seats agree on the value at lo and disagree at hi. A recursion
step is two moves: the first seat commits to the value at the midpoint (one of 256 moves), then
the second. If they agree there, the dispute moves to [mid, hi]; if not, to [lo, mid]; either way
they still agree at lo and disagree at hi. After log2 T recursion steps hi = lo + 1 and the judge
checks that one step: the seat whose value at hi is step(value at lo) wins. Depth comes from
`terminated`, whose turn from `current_seat`; a game of length T has 2 log2 T moves.

Each seat holds a prepared trace (`Example.traces_2xT1`): the truth, or a lying trace that is
wrong at some steps only (`computation.lying_traces`). `prior` plays a seat's own trace: the
honest seat's is exact (it evaluated all T steps once), a liar's follows its lie.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from debate.games.base import GameDefaults, Observation
from debate.games.recursive import computation as comp

M = comp.M


class Example(NamedTuple):
  seed: jax.Array          # int32, the computation's coefficients
  x0: jax.Array            # int32
  traces_2xT1: jax.Array   # uint8 [2, T + 1], each seat's prepared trace
  claims_2: jax.Array      # int32, each seat's value after T steps
  first: jax.Array         # int32, the seat that commits first in every round
  truth_seat: jax.Array    # int32, metrics only


class State(NamedTuple):
  lo: jax.Array
  hi: jax.Array
  v_lo: jax.Array          # the agreed value at lo
  vhi_2: jax.Array         # each seat's value at hi (they differ)
  pending: jax.Array       # the first seat's commitment this round (phase 1)
  phase: jax.Array         # 0: the first seat commits; 1: the second
  num_moves: jax.Array


class Bisection(GameDefaults):
  name = "bisection"
  num_actions = M

  def __init__(self, log2_steps: int):
    if not 1 <= int(log2_steps) <= 20:
      raise ValueError(f"log2_steps={log2_steps}; allowed: 1..20")
    self.log2_steps = int(log2_steps)
    self.steps = 1 << self.log2_steps
    self.max_turns = 2 * self.log2_steps

  def init(self, example):
    z = jnp.int32(0)
    return State(z, jnp.int32(self.steps), example.x0.astype(jnp.int32),
                 example.claims_2.astype(jnp.int32), z, z, z)

  def step(self, example, state, action):
    action = jnp.asarray(action, jnp.int32)
    mid = (state.lo + state.hi) // 2
    second = state.phase == 1
    values = jnp.where(example.first == 0, jnp.stack([state.pending, action]),
                       jnp.stack([action, state.pending]))  # by seat
    agree = values[0] == values[1]
    resolved = State(jnp.where(agree, mid, state.lo), jnp.where(agree, state.hi, mid),
                     jnp.where(agree, values[0], state.v_lo),
                     jnp.where(agree, state.vhi_2, values), jnp.int32(0), jnp.int32(0),
                     state.num_moves)
    pending = state._replace(pending=action, phase=jnp.int32(1))
    out = jax.tree.map(lambda a, b: jnp.where(second, a, b), resolved, pending)
    return out._replace(num_moves=state.num_moves + 1)

  def legal_mask(self, example, state):
    return jnp.broadcast_to(~self.terminated(example, state), (M,))

  def current_seat(self, example, state):
    return jnp.where(state.phase == 0, example.first, 1 - example.first)

  def turn(self, example, state):
    return state.num_moves

  def terminated(self, example, state):
    return state.hi - state.lo <= 1

  def observe(self, example, state, seat):
    return Observation(example, state, jnp.asarray(seat, jnp.int32))

  def judge_view(self, example, state):
    """The one step the judge may check: its seed and index, the agreed value before it, each
    seat's value after it, the claims, and whether the game is over."""
    return (example.seed, state.lo, state.v_lo, state.vhi_2, example.claims_2,
            self.terminated(example, state))

  def prior(self, example, state):
    """The mover's own trace at the midpoint."""
    seat = self.current_seat(example, state)
    mid = (state.lo + state.hi) // 2
    return jax.nn.one_hot(example.traces_2xT1[seat, mid].astype(jnp.int32), M)

  def render(self, example, transcript, i):
    return {"seed": int(example.seed[i]), "x0": int(example.x0[i]), "steps": self.steps,
            "claims": [int(c) for c in example.claims_2[i]], "first": int(example.first[i]),
            "moves": [{"seat": int(s), "value": int(a)} for s, a, m in zip(
                transcript["seats_BxT"][i], transcript["actions_BxT"][i],
                transcript["moved_BxT"][i]) if m]}


def judge_apply(params, seed, lo, v_lo, vhi_2, claims_2, leaf):
  """The judge evaluates one step, step(seed, lo, v_lo), and backs the seat whose value at
  lo + 1 matches it; no opinion before the leaf, nor when neither or both match. Batched or not;
  `params` scales the logits."""
  want = comp.step(seed, lo, v_lo)
  match = vhi_2 == want[..., None]
  one = match[..., 0] != match[..., 1]
  winner = jnp.where(match[..., 0], claims_2[..., 0], claims_2[..., 1])
  ok = (one & leaf).astype(jnp.float32)
  return params * jax.nn.one_hot(winner, M) * ok[..., None]


def network_features(obs) -> jax.Array:
  """float [B, 2M + 3], the same at every T: the mover's own value at the midpoint, the first
  seat's commitment on the table (phase 1), the phase, how deep the dispute is, and whether the
  mover's own value at hi is the one on the table."""
  ex, st = obs.example, obs.state
  mid = (st.lo + st.hi) // 2
  own = jnp.take_along_axis(ex.traces_2xT1, obs.seat[:, None, None], 1)[:, 0]
  own_mid = jnp.take_along_axis(own, mid[:, None], 1)[:, 0].astype(jnp.int32)
  oh = lambda v: jax.nn.one_hot(v, M)
  log_width = jnp.log2(jnp.maximum(st.hi - st.lo, 1).astype(jnp.float32))
  log_total = jnp.log2(own.shape[-1] - 1.0)
  on_table = jnp.where(st.phase == 1, 1.0, 0.0)
  return jnp.concatenate([oh(own_mid), oh(st.pending) * on_table[:, None],
                          on_table[:, None], (log_width / log_total)[:, None],
                          (own_mid == st.pending).astype(jnp.float32)[:, None] * on_table[:, None]],
                         -1)


def network(hidden: int = 64):
  """The learned debaters' network (`models.mlp.PolicyValueMLP` on `network_features`), for
  self-play; the same parameters play at every T."""
  from debate.selfplay.learner import make_network
  from models.mlp import PolicyValueMLP
  game = Bisection(1)

  def evaluate(net, obs):
    logits, value = net(network_features(obs))
    legal = jax.vmap(game.legal_mask)(obs.example, obs.state)
    return jnp.where(legal, logits, -jnp.inf), value

  return make_network(lambda rngs: PolicyValueMLP(2 * M + 3, M, hidden, rngs=rngs), evaluate,
                      game.current_seat)
