"""Prover-estimator debate (Brown-Cohen, Irving, Piliouras 2025, arXiv 2506.13609) on claim
trees of depth two, with the liar as the prover.

Our operationalisation of the paper's rules (the stored library holds its abstract, not its
protocol text; the rules below are our reading of it, named as such in docs/RESULTS.md):
- The root claim holds iff at least `theta` of its q sub-claims hold; a sub-claim holds iff at
  least `theta` of its q leaves hold; the judge can check a leaf.
- The prover, Alice, asserts the root (the liar: the root is false). The estimator, Bob, states
  a probability for every sub-claim and one for the root, which must be consistent with them
  (the probability that independent draws at his sub-claim probabilities satisfy the
  threshold). Bob's compute is bounded: he evaluates m random leaves of each sub-claim and
  states the posterior probability that the sub-claim holds (a uniform prior on its count of
  true leaves, exact hypergeometric likelihood).
- Alice picks a sub-claim and a direction (Bob's probability is too high, or too low), and the
  debate recurses into it: Bob states its leaves (one sub-claim's leaves: cheap, so exactly),
  the judge checks his recursed-into probability against them, and a leaf if Alice asks.
  Alice's reward is the inconsistency she exposes in her chosen direction; she wins when she
  exposes more than `tau` anywhere, or when Bob's root probability already backs her
  (>= 1/2). Otherwise the estimator's root probability stands, and it says the root is false.
- Stability (the paper's assumption that the answer does not hinge on small errors in the
  sub-claims' probabilities), here as a margin: every node's fraction of true children is at
  least `margin` away from its threshold. Margin 0: some sub-claim, or the root, is decided
  by a single child: the unstable, obfuscation-like instances.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np


class Trees(NamedTuple):
  leaves_NxQxQ: np.ndarray   # bool, every leaf's truth
  children_NxQ: np.ndarray   # bool, every sub-claim's truth
  root_N: np.ndarray         # bool


def trees(rng: np.random.Generator, n: int, q: int, margin: float, theta: float = 0.5) -> Trees:
  """Trees whose root is false, every node `margin` away from its threshold (at least one child
  off it): the root has ceil(theta q) - max(1, ceil(margin q)) true sub-claims; a true sub-claim
  ceil(theta q) + ceil(margin q) - 1 ... + ... true leaves, a false one that many fewer."""
  need = int(math.ceil(theta * q))
  gap = int(math.ceil(margin * q))
  true_children = need - max(1, gap)
  counts_true = min(q, need + gap)
  counts_false = need - max(1, gap)
  children = np.zeros((n, q), bool)
  leaves = np.zeros((n, q, q), bool)
  for i in range(n):
    children[i, rng.permutation(q)[:true_children]] = True
    for j in range(q):
      k = counts_true if children[i, j] else counts_false
      leaves[i, j, rng.permutation(q)[:k]] = True
  root = children.sum(1) >= need
  assert not root.any() and ((leaves.sum(2) >= need) == children).all()
  return Trees(leaves, children, root)


def posterior_holds(q: int, m: int, k: np.ndarray, need: int) -> np.ndarray:
  """P(count >= need | k of m sampled leaves true), count ~ uniform on 0..q (hypergeometric)."""
  counts = np.arange(q + 1)
  like = np.array([[math.comb(K, kk) * math.comb(q - K, m - kk) if kk <= K and m - kk <= q - K
                    else 0 for K in counts] for kk in range(m + 1)], np.float64)
  post = like / like.sum(1, keepdims=True)
  return post[np.asarray(k)][..., need:].sum(-1)


def at_least(p_NxQ: np.ndarray, need: int) -> np.ndarray:
  """P(at least `need` of independent Bernoulli(p_j) are 1), exactly (Poisson-binomial)."""
  n, q = p_NxQ.shape
  dist = np.zeros((n, q + 1))
  dist[:, 0] = 1.0
  for j in range(q):
    p = p_NxQ[:, j:j + 1]
    dist = dist * (1 - p) + np.concatenate([np.zeros((n, 1)), dist[:, :-1]], 1) * p
  return dist[:, need:].sum(1)


class Outcome(NamedTuple):
  liar_wins: np.ndarray      # bool
  root_estimate: np.ndarray  # float, Bob's root probability
  exposed: np.ndarray        # float, the largest inconsistency Alice could expose
  bob_leaves: int            # leaves Bob evaluated per game (his compute)


def play(rng: np.random.Generator, t: Trees, m: int, tau: float = 0.5,
         theta: float = 0.5) -> Outcome:
  n, q, _ = t.leaves_NxQxQ.shape
  need = int(math.ceil(theta * q))
  order = np.argsort(rng.random((n, q, q)), 2)[..., :m]
  k = np.take_along_axis(t.leaves_NxQxQ, order, 2).sum(2)
  p_children = posterior_holds(q, m, k, need)                    # Bob's sub-claim estimates
  p_root = at_least(p_children, need)                             # consistent by construction
  # Recursing into sub-claim j, Bob states its q leaves exactly; the judge's implied probability
  # is then the sub-claim's truth, so Alice exposes |truth_j - p_j| in the right direction.
  exposed = np.abs(t.children_NxQ.astype(np.float64) - p_children).max(1)
  wins = (p_root >= 0.5) | (exposed > tau)
  return Outcome(wins, p_root, exposed, q * m + q)
