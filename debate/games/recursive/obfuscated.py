"""The obfuscated-arguments stress test (Barnes and Christiano 2020) on the long computation.

A claim about q independent sub-computations of L steps each (sub-computation i: its own seed
and start): "their results sum to Y (mod 256)". The liar argues for a false Y by splitting it
into q sub-claims y_1..y_q, all true but one, the planted one, whose position is a keyed
pseudorandom function of the instance (the key is the liar's secret, so to anyone without it the
position is uniform). Plain recursive debate: the honest side picks one sub-claim to dispute and
the dispute is settled by bisection (`bisection.py`), where the judge checks one step. Disputing
a true sub-claim loses; disputing the planted one wins.

The honest side has the compute of m sub-computations (m L steps): it evaluates m sub-claims
chosen at random, disputes the planted one if it found it, and otherwise a random sub-claim it
did not check. It wins with probability m/q + (1 - m/q) / (q - m) = (m + 1) / q, which is m/q
for large q: finding the flaw costs about q/2 sub-computations, so an honest side with less
compute than the whole claim loses, although the claim is false.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import jax.numpy as jnp

from debate.games.recursive import computation as comp


class Instances(NamedTuple):
  seeds_NxQ: np.ndarray     # int32, each sub-computation's coefficients
  x0_NxQ: np.ndarray        # int32
  truth_NxQ: np.ndarray     # int32, each sub-computation's value after L steps
  claims_NxQ: np.ndarray    # int32, the liar's sub-claims (wrong at `planted` only)
  planted_N: np.ndarray     # int32, where the wrong sub-claim sits


def planted_position(key: int, instance_ids: np.ndarray, q: int) -> np.ndarray:
  """The keyed pseudorandom position of the wrong sub-claim (murmur3 finalizer of key and id)."""
  a, _ = comp.coefficients(np.int64(key), np.asarray(instance_ids))
  _, b = comp.coefficients(np.asarray(instance_ids), np.int64(key))
  return ((np.asarray(a) * comp.M + np.asarray(b)) % q).astype(np.int32)


def instances(n: int, q: int, log2_steps: int, seed: int, key: int) -> Instances:
  rng = np.random.default_rng(seed)
  seeds = rng.integers(0, 2**31 - 1, (n, q)).astype(np.int32)
  x0 = rng.integers(0, comp.M, (n, q)).astype(np.int32)
  steps = jnp.zeros(1 << log2_steps)
  truth = np.stack([np.asarray(comp.true_traces(seeds[i], x0[i], steps))[:, -1]
                    for i in range(n)]).astype(np.int32)
  planted = planted_position(key, np.arange(n), q)
  claims = truth.copy()
  rows = np.arange(n)
  claims[rows, planted] = (truth[rows, planted] + rng.integers(1, comp.M, n)) % comp.M
  return Instances(seeds, x0, truth, claims, planted)


def honest_choices(rng: np.random.Generator, truth_NxQ, claims_NxQ, m: int):
  """(disputed sub-claim, found it by checking) per instance: m random sub-claims evaluated
  (m L steps), the wrong one disputed if among them, else a random unchecked one."""
  n, q = truth_NxQ.shape
  order = np.argsort(rng.random((n, q)), 1)
  checked, rest = order[:, :m], order[:, m:]
  wrong = np.take_along_axis(truth_NxQ != claims_NxQ, checked, 1)
  found = wrong.any(1)
  pick_checked = np.take_along_axis(checked, wrong.argmax(1)[:, None], 1)[:, 0]
  pick_rest = rest[np.arange(n), rng.integers(0, q - m, n)]
  return np.where(found, pick_checked, pick_rest).astype(np.int32), found


def expected_honest_win(q: int, m: int) -> float:
  return (m + 1) / q
