"""Tournaments: win matrices, and Elo ratings fitted to them (Bradley-Terry) with bootstrap
intervals.

Debate is not symmetric: one seat argues for the truth. So each debater gets an honest-seat rating
h_i and a liar-seat rating l_i (as Khan et al. 2024 do), and honest debater i beats liar j with
probability sigmoid((h_i - l_j) / s), s = 400 / ln 10 (the Elo scale). Ratings are the
maximum-likelihood fit with a weak Gaussian prior (so a perfect record stays finite), found by
Newton's method; the overall rating of a debater is the mean of its two seat ratings, and all
ratings are shifted so that the `anchor` debater's overall rating is 0 (or their mean, if no
anchor). Intervals: refits on binomial resamples of every matchup's wins.
"""
from __future__ import annotations

import numpy as np

SCALE = 400.0 / np.log(10.0)


def fit_elo(wins_PxP: np.ndarray, games_PxP: np.ndarray, prior: float = 1e-3,
            iterations: int = 100) -> tuple[np.ndarray, np.ndarray]:
  """(honest ratings [P], liar ratings [P]) on the Elo scale, before anchoring: wins[i, j] of
  games[i, j] games won by honest i against liar j."""
  wins, games = np.asarray(wins_PxP, float), np.asarray(games_PxP, float)
  n = len(wins)
  theta = np.zeros(2 * n)  # [h, l] in logit units
  for _ in range(iterations):
    h, l = theta[:n], theta[n:]
    p = 1.0 / (1.0 + np.exp(-(h[:, None] - l[None, :])))
    resid = wins - games * p             # d loglik / d (h_i - l_j)
    grad = np.concatenate([resid.sum(1), -resid.sum(0)]) - prior * theta
    w = games * p * (1 - p)
    hess = np.zeros((2 * n, 2 * n))
    hess[:n, :n] = -np.diag(w.sum(1))
    hess[n:, n:] = -np.diag(w.sum(0))
    hess[:n, n:] = w
    hess[n:, :n] = w.T
    hess -= prior * np.eye(2 * n)
    step = np.linalg.solve(hess, grad)
    theta = theta - step
    if np.abs(step).max() < 1e-10:
      break
  return theta[:n] * SCALE, theta[n:] * SCALE


def ratings(wins_PxP, games_PxP, names: list[str], anchor: str | None = None,
            bootstrap: int = 200, seed: int = 0) -> dict:
  """Overall, honest-seat and liar-seat ratings by name, each with a 95% bootstrap interval."""
  names = list(names)

  def fit(w):
    h, l = fit_elo(w, games_PxP)
    overall = (h + l) / 2
    shift = overall[names.index(anchor)] if anchor in names else overall.mean()
    return overall - shift, h - shift, l - shift

  point = fit(wins_PxP)
  rng = np.random.default_rng(seed)
  games = np.asarray(games_PxP, int)
  rate = np.where(games > 0, np.asarray(wins_PxP) / np.maximum(games, 1), 0.0)
  boot = [fit(rng.binomial(games, rate)) for _ in range(bootstrap)]
  out = {}
  for key, idx in (("elo", 0), ("elo_honest", 1), ("elo_liar", 2)):
    samples = np.stack([b[idx] for b in boot]) if boot else None
    out[key] = {n: float(point[idx][i]) for i, n in enumerate(names)}
    if samples is not None:
      lo, hi = np.percentile(samples, [2.5, 97.5], axis=0)
      out[key + "_ci95"] = {n: [float(lo[i]), float(hi[i])] for i, n in enumerate(names)}
  return out


def expected_score(h_i: float, l_j: float) -> float:
  """P(honest i beats liar j) from their seat ratings."""
  return float(1.0 / (1.0 + np.exp(-(h_i - l_j) / SCALE)))
