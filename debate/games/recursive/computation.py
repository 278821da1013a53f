"""A long computation whose one step is cheap to check: x_{t+1} = (a_t x_t + b_t) mod 256, with
(a_t, b_t) a hash of the instance's seed and t (a_t odd, so every step is a bijection and has an
inverse). No shortcut skips steps: the coefficients change every step, so the value after T
steps costs T step evaluations, while checking one step costs one.

Traces are uint8 [..., T + 1]. A lying trace ends at a wrong claim and is wrong at chosen steps
only: it follows the truth (shifted at each earlier corrupted step) up to its last corrupted step
and runs backwards from the claim after it, so every other step is right.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

BITS = 8
M = 1 << BITS  # states (and claims)


def _mix(h):
  """murmur3's 32-bit finalizer (uint32 in, uint32 out)."""
  h = h ^ (h >> 16)
  h = h * jnp.uint32(0x85EBCA6B)
  h = h ^ (h >> 13)
  h = h * jnp.uint32(0xC2B2AE35)
  return h ^ (h >> 16)


def coefficients(seed, t):
  """(a_t, b_t), int32, for any broadcastable seed and t."""
  h = _mix(jnp.asarray(seed).astype(jnp.uint32) * jnp.uint32(0x9E3779B1)
           ^ _mix(jnp.asarray(t).astype(jnp.uint32) + jnp.uint32(0x632BE5AB)))
  a = (h & jnp.uint32(M - 1)) | jnp.uint32(1)
  b = (h >> 8) & jnp.uint32(M - 1)
  return a.astype(jnp.int32), b.astype(jnp.int32)


def step(seed, t, x):
  """x_{t+1} from x_t: one step, what the judge evaluates."""
  a, b = coefficients(seed, t)
  return (a * jnp.asarray(x, jnp.int32) + b) & (M - 1)


def inverse_step(seed, t, y):
  """x_t from x_{t+1} (a_t is odd, so invertible mod 256; Newton's iteration for the inverse)."""
  a, b = coefficients(seed, t)
  inv = a
  for _ in range(3):  # 3 -> 6 -> 12 correct low bits
    inv = (inv * (2 - a * inv)) & (M - 1)
  return (inv * (jnp.asarray(y, jnp.int32) - b)) & (M - 1)


@jax.jit
def true_traces(seed_B, x0_B, steps_like_T):
  """uint8 [B, T + 1]: the computation from x0 (T = len(steps_like_T))."""
  def body(x, t):
    nxt = step(seed_B, t, x)
    return nxt, nxt
  ts = jnp.arange(steps_like_T.shape[0])
  _, xs = jax.lax.scan(body, jnp.asarray(x0_B, jnp.int32), ts)
  return jnp.concatenate([jnp.asarray(x0_B, jnp.int32)[:, None], xs.T], 1).astype(jnp.uint8)


@jax.jit
def lying_traces(seed_B, x0_B, corrupt_BxT, claim_B):
  """uint8 [B, T + 1]: a trace ending at `claim_B` (assumed wrong) that is wrong only at the steps
  where `corrupt_BxT` is true: the truth, shifted by one at every corrupted step but the last,
  then backwards from the claim after the last corrupted step. A game whose mask is empty is
  corrupted at its last step."""
  T = corrupt_BxT.shape[1]
  ts = jnp.arange(T)
  last = jnp.max(jnp.where(corrupt_BxT, ts[None], -1), 1)
  last = jnp.where(last < 0, T - 1, last)

  def forward(x, t):
    nxt = (step(seed_B, t, x) + corrupt_BxT[:, t].astype(jnp.int32)) & (M - 1)
    return nxt, nxt
  _, fwd = jax.lax.scan(forward, jnp.asarray(x0_B, jnp.int32), ts)

  def backward(y, t):
    prev = inverse_step(seed_B, t, y)
    return prev, prev
  _, bwd = jax.lax.scan(backward, jnp.asarray(claim_B, jnp.int32), ts[::-1])
  fwd = jnp.concatenate([jnp.asarray(x0_B, jnp.int32)[:, None], fwd.T], 1)  # x_0 .. x_T
  bwd = jnp.concatenate([bwd[::-1].T, jnp.asarray(claim_B, jnp.int32)[:, None]], 1)
  pos = jnp.arange(T + 1)[None]
  return jnp.where(pos <= last[:, None], fwd, bwd).astype(jnp.uint8)


def wrong_steps(seed, trace) -> np.ndarray:
  """int [K]: the steps t at which trace[t + 1] != step(trace[t]) (one trace)."""
  tr = np.asarray(trace, np.int64)
  t = np.arange(len(tr) - 1)
  ok = np.asarray(step(np.int64(seed), t, tr[:-1])) == tr[1:]
  return np.flatnonzero(~ok)


def corruption_masks(rng: np.random.Generator, n: int, T: int, kind: str,
                     rate: float = 0.1) -> np.ndarray:
  """bool [n, T]: where each lying trace goes wrong. "one": one uniformly random step; "many":
  each step with probability `rate`, at least one."""
  mask = np.zeros((n, T), bool)
  mask[np.arange(n), rng.integers(0, T, n)] = True
  if kind == "many":
    mask |= rng.random((n, T)) < rate
  elif kind != "one":
    raise ValueError(f"corruption {kind!r}; allowed: one, many")
  return mask
