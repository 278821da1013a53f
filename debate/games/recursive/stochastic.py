"""Doubly-efficient debate with a stochastic oracle (Brown-Cohen, Irving, Piliouras 2023,
arXiv 2311.14125), the protocol of `Debate/Protocol.lean` in girving/debate, simulated for many
games at once in JAX.

The computation: a walk on S states. At each of T steps it queries the oracle at its state,
o(s) = sigmoid(MLP(s)), draws x ~ Bernoulli(o(s)) and moves up (x = 1) or down, clipped to
[0, S - 1]; it outputs whether it ends in the upper half. Nobody can compute the trace exactly:
each step is a coin the debaters can only estimate by sampling the oracle.

The protocol, step by step (Lean: `step`, `steps`, `debate`): Alice states p, her probability
that the oracle returns 1; Bob accepts or rejects it. Accepted, the protocol draws x ~
Bernoulli(p) itself and goes on. Rejected, the verifier Vera estimates the oracle's probability
and the debate ends at once with her verdict (1 iff |p - her estimate| < (c + s) / 2); after the
last step the output is the computation's. Alice wants output 1, Bob output 0.

Honest players, as in the Lean file: Alice estimates o with `samples(c, q)` oracle calls; Bob
estimates it with `samples((b - s) / 2, q)` and rejects iff |p - his estimate| >= (s + b) / 2;
Vera is honest Bob with (c, s, v): `samples((s - c) / 2, v)` calls and threshold (c + s) / 2.
`samples(e, q) = ceil(-ln(q / 2) / (2 e^2))` (Hoeffding). The default constants
(`Details.lean`, `defaults`): v = 1/100, c = 1/(100k), s = 2/(100k), b = 5/(100k),
q = 1/(100 max(1, T)), for a k-Lipschitz computation; with them the theorem guarantees
completeness and soundness 3/5 whenever the computation's own probability is >= 2/3.

An estimate (the mean of n oracle draws) is drawn by its normal approximation,
o + sqrt(o (1 - o) / n) z: n is 40,000 and more here, so the binomial and the normal agree far
beyond the precision of 2,000 games; the calls are counted as n.
"""
from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

STATES = 16


@dataclasses.dataclass(frozen=True)
class Params:
  c: float
  s: float
  b: float
  q: float
  v: float

  @classmethod
  def defaults(cls, k: float, steps: int) -> "Params":
    return cls(c=1 / (100 * k), s=2 / (100 * k), b=5 / (100 * k), q=1 / (100 * max(1, steps)),
               v=1 / 100)

  @property
  def alice_samples(self) -> int:
    return samples(self.c, self.q)

  @property
  def bob_samples(self) -> int:
    return samples((self.b - self.s) / 2, self.q)

  @property
  def vera_samples(self) -> int:
    return samples((self.s - self.c) / 2, self.v)


def samples(e: float, q: float) -> int:
  """Enough oracle draws to estimate a probability within e with failure probability <= q."""
  return int(math.ceil(-math.log(q / 2) / (2 * e * e)))


def theorem_alice_bound(k: float, steps: int) -> float:
  """Cost.lean, `alice_fast`: honest Alice's oracle calls <= T (5000 k^2 ln(200 T) + 1)."""
  return steps * (5000 * k * k * math.log(200 * steps) + 1)


def theorem_vera_bound(k: float) -> float:
  """Cost.lean, `vera_fast`: the verifier's calls <= 106000 k^2 + 1, whatever T."""
  return 106000 * k * k + 1


# ---------------------------------------------------------------------------------------------
# Instances: random oracles, and the exact probability of each output.

def oracle_tables(rng: np.random.Generator, n: int, hidden: int = 16,
                  bias_scale: float = 1.5) -> np.ndarray:
  """float [n, S]: o(s) = sigmoid(MLP(one_hot(s))) for n random MLPs (one hidden tanh layer)."""
  w1 = rng.normal(0, 1, (n, STATES, hidden))
  b1 = rng.normal(0, 0.5, (n, 1, hidden))
  w2 = rng.normal(0, 1 / math.sqrt(hidden), (n, hidden))
  b2 = rng.normal(0, bias_scale, (n, 1))
  logits = np.einsum("nsh,nh->ns", np.tanh(w1 + b1), w2) + b2
  return 1 / (1 + np.exp(-logits))


def start_state() -> int:
  return STATES // 2 - 1


def output_probability(table_NxS: np.ndarray, steps: int, shift: float = 0.0) -> np.ndarray:
  """float [N]: Pr(output = 1) exactly , under an oracle
  moved by `shift` (clipped to [0, 1]); dist_0 P^T by repeated squaring."""
  o = np.clip(np.asarray(table_NxS, np.float64) + shift, 0, 1)
  n = len(o)
  P = np.zeros((n, STATES, STATES))  # P[i, s, s']: one step's transition
  idx = np.arange(STATES)
  np.add.at(P, (slice(None), idx, np.minimum(idx + 1, STATES - 1)), o)
  np.add.at(P, (slice(None), idx, np.maximum(idx - 1, 0)), 1 - o)
  dist = np.zeros((n, STATES))
  dist[:, start_state()] = 1.0
  power, left = P, int(steps)
  while left:  # dist @ P^steps by repeated squaring
    if left & 1:
      dist = np.einsum("ns,nst->nt", dist, power)
    power = np.einsum("nst,ntu->nsu", power, power)
    left >>= 1
  return dist[:, STATES // 2:].sum(1)


def lipschitz(table_NxS: np.ndarray, steps: int, eps: float = 0.01) -> np.ndarray:
  """float [N]: how far Pr(output = 1) moves per unit of a uniform shift of the oracle (the walk
  is monotone in o, so a uniform shift is the worst one of its size)."""
  base = output_probability(table_NxS, steps)
  up = output_probability(table_NxS, steps, eps)
  down = output_probability(table_NxS, steps, -eps)
  return np.maximum(up - base, base - down) / eps


# ---------------------------------------------------------------------------------------------
# Players. Alice: honest, or shifting her estimate by `shift` toward output 1 from step
# `lie_from` on. Bob: honest, or one of the fixed rules below.

BOB_HONEST, BOB_NEVER, BOB_FIRST, BOB_RANDOM, BOB_LAST, BOB_WHEN_AHEAD = range(6)
BOBS = {"honest": BOB_HONEST, "never_reject": BOB_NEVER, "reject_first": BOB_FIRST,
        "reject_random": BOB_RANDOM, "reject_last": BOB_LAST, "reject_when_ahead": BOB_WHEN_AHEAD}


class Games(NamedTuple):
  table_GxS: jax.Array     # the oracle of each game's instance
  alice_shift: jax.Array   # float, 0 for honest Alice
  lie_from: jax.Array      # int32, the first step Alice shifts at
  bob: jax.Array           # int32, one of BOBS
  bob_step: jax.Array      # int32, the step a reject_random Bob rejects at


class Outcome(NamedTuple):
  output: jax.Array        # bool, the debate's result (1: Alice wins)
  rejected: jax.Array      # bool, Bob rejected (Vera was called)
  steps_taken: jax.Array   # int32, oracle-query steps played (Alice and Bob each estimated)


def play(games: Games, steps: int, params: Params, rng: jax.Array) -> Outcome:
  """Every game's debate, one step of the computation per scan step."""
  return _play_jit(games, rng, steps=steps, n_a=params.alice_samples, n_b=params.bob_samples,
                   n_v=params.vera_samples, bob_threshold=(params.s + params.b) / 2,
                   vera_threshold=(params.c + params.s) / 2)


@jax.jit(static_argnames=("steps", "n_a", "n_b", "n_v", "bob_threshold", "vera_threshold"))
def _play_jit(games, rng, *, steps, n_a, n_b, n_v, bob_threshold, vera_threshold):
  G = games.alice_shift.shape[0]
  rows = jnp.arange(G)

  def body(carry, t):
    s, done, verdict, taken = carry
    k = jax.random.fold_in(rng, t)
    z = jax.random.normal(k, (4, G))
    o = games.table_GxS[rows, s]
    sd = jnp.sqrt(o * (1 - o))
    honest_p = jnp.clip(o + sd / math.sqrt(n_a) * z[0], 0, 1)
    p = jnp.clip(honest_p + jnp.where(t >= games.lie_from, games.alice_shift, 0.0), 0, 1)
    bob_est = o + sd / math.sqrt(n_b) * z[1]
    honest_reject = jnp.abs(p - bob_est) >= bob_threshold
    reject = jnp.select(
        [games.bob == BOB_HONEST, games.bob == BOB_NEVER, games.bob == BOB_FIRST,
         games.bob == BOB_RANDOM, games.bob == BOB_LAST],
        [honest_reject, jnp.zeros(G, bool), jnp.full(G, t == 0), t == games.bob_step,
         jnp.full(G, t == steps - 1)],
        s >= STATES // 2)  # reject_when_ahead: call the verifier whenever Alice is ahead
    vera_est = o + sd / math.sqrt(n_v) * z[2]
    vera_accepts = jnp.abs(p - vera_est) < vera_threshold
    x = jax.random.uniform(jax.random.fold_in(k, 1), (G,)) < p
    live = ~done
    stop = live & reject
    verdict = jnp.where(stop, vera_accepts, verdict)
    s = jnp.where(live & ~reject, jnp.clip(s + 2 * x.astype(jnp.int32) - 1, 0, STATES - 1), s)
    return (s, done | stop, verdict, taken + live.astype(jnp.int32)), None

  init = (jnp.full(G, start_state(), jnp.int32), jnp.zeros(G, bool), jnp.zeros(G, bool),
          jnp.zeros(G, jnp.int32))
  (s, done, verdict, taken), _ = jax.lax.scan(body, init, jnp.arange(steps))
  return Outcome(jnp.where(done, verdict, s >= STATES // 2), done, taken)
