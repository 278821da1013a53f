"""Elo (Bradley-Terry with seat ratings) recovers known ratings from simulated outcomes."""
import numpy as np

from debate import league


def test_elo_fit_recovers_known_seat_ratings():
  rng = np.random.default_rng(0)
  names = ["random", "greedy", "mcts", "learned"]
  honest = np.array([0.0, 300.0, 500.0, 800.0])
  liar = np.array([-200.0, 100.0, 350.0, 600.0])
  p = 1 / (1 + np.exp(-(honest[:, None] - liar[None, :]) / league.SCALE))
  games = np.full((4, 4), 4000)
  wins = rng.binomial(games, p)
  h, l = league.fit_elo(wins, games)
  shift = ((h + l) / 2)[0] - (honest + liar)[0] / 2  # Ratings are known up to one shift.
  np.testing.assert_allclose(h - shift, honest, atol=25)
  np.testing.assert_allclose(l - shift, liar, atol=25)
  out = league.ratings(wins, games, names, anchor="random", bootstrap=50)
  assert out["elo"]["random"] == 0.0
  true_overall = (honest + liar) / 2 - (honest + liar)[0] / 2
  for i, n in enumerate(names):
    lo, hi = out["elo_ci95"][n]
    assert lo - 15 <= true_overall[i] <= hi + 15, (n, lo, hi, true_overall[i])
  assert [n for n in sorted(names, key=out["elo"].get)] == names  # The order is recovered.
  assert abs(league.expected_score(800.0, 600.0) - 1 / (1 + 10 ** (-200 / 400))) < 1e-9


def test_elo_fit_stays_finite_on_a_perfect_record():
  games = np.full((2, 2), 50)
  wins = np.array([[25, 50], [0, 25]])  # Honest 0 always beats liar 1; honest 1 never wins.
  h, l = league.fit_elo(wins, games)
  assert np.isfinite(h).all() and np.isfinite(l).all() and h[0] > h[1]
