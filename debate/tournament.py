"""Tournaments for any game: every pair of debaters plays the same games as honest and as liar,
through one compiled player (`debate.debaters.switch`); finished pairings are kept in the workdir
(`matches.json`) so that a stopped tournament resumes; then the win matrix, Elo with seat ratings
(`debate.league`), and the judge's accuracy in self-play against Elo (the persuasiveness curve).
"""
from __future__ import annotations

import logging
import os
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from debate import io, league, rollout
from debate import metrics as metrics_lib
from debate.debaters.switch import make_switch
from debate.runs import md_table
from debate.train import preempt


class Entrants:
  """Named debaters for one tournament: distinct debaters (one `switch` branch each) and, per
  entrant, the branch it plays and its learned parameters (the same debater may play with
  several parameter sets: a self-play population)."""

  def __init__(self, make: Callable[[str], Any]):
    self._make = make  # spec -> Debater
    self.branches, self._branch_of, self.names, self.nets = [], {}, [], []

  def add(self, name: str, spec: str, params=None) -> None:
    if spec not in self._branch_of:
      self._branch_of[spec] = len(self.branches)
      self.branches.append(self._make(spec))
    self.names.append(name)
    self.nets.append({"index": jnp.int32(self._branch_of[spec]), "params": params})

  def seat_params(self) -> list:
    """Per entrant, the switch's parameters; when none learned anything, a stand-in of the
    same structure for all (the switch compiles one structure)."""
    if all(n["params"] is None for n in self.nets):
      return [{"index": n["index"], "params": {}} for n in self.nets]
    with_params = next(n["params"] for n in self.nets if n["params"] is not None)
    return [n if n["params"] is not None else {"index": n["index"], "params": with_params}
            for n in self.nets]


def play(entrants: Entrants, *, game, protocol, judge_apply, judge_params, examples, runtime,
         batch_size: int, seed: int, workdir: str) -> dict:
  """Every pairing (honest i against liar j) on `examples`: {"wins", "games", "seconds"} as
  [P, P] arrays. Resumes from `workdir/matches.json`; SIGTERM stops between pairings."""
  switch = make_switch(entrants.branches)
  player = rollout.make_player(runtime, game=game, protocol=protocol, debaters=(switch, switch),
                               judge_apply=judge_apply)
  ndata = runtime.shards if runtime is not None else 1
  names, nets = entrants.names, entrants.seat_params()
  n, n_games = len(names), len(jax.tree.leaves(examples)[0])
  out = {k: np.zeros((n, n)) for k in ("wins", "games", "seconds")}
  done_path = os.path.join(workdir, "matches.json")
  done = io.read_json(done_path) if os.path.exists(done_path) else {}
  logging.info("tournament: %d debaters, %d pairings of %d games", n, n * n, n_games)
  if len(done) < n * n:  # Compile once, outside every pairing's time.
    t = time.time()
    rollout.run_batched(player, jax.random.PRNGKey(0), judge_params,
                        jax.tree.map(lambda x: x[:batch_size], examples), batch_size, ndata,
                        seat_params=(nets[0], nets[0]))
    logging.info("tournament: player compiled in %.0f s", time.time() - t)
  for i in range(n):
    for j in range(n):
      key = f"{names[i]} vs {names[j]}"
      if key not in done:
        if preempt.requested():
          raise preempt.Preempted(f"tournament: stopped before {key}; finished pairings are "
                                  f"kept in {done_path}, rerun the same command to resume")
        t = time.time()
        tr = rollout.run_batched(player, jax.random.PRNGKey(seed + 1), judge_params, examples,
                                 batch_size, ndata, seat_params=(nets[i], nets[j]))
        done[key] = {"wins": int(tr["honest_wins_B"].sum()), "games": n_games,
                     "seconds": time.time() - t}
        io.atomic_write_json(done_path, done)
        logging.info("%s: honest wins %d/%d (%.0f s)", key, done[key]["wins"], n_games,
                     done[key]["seconds"])
      for k in out:
        out[k][i, j] = done[key][k]
  return out


def summarize(names: list[str], played: dict, bootstrap: int, seed: int) -> dict:
  """Elo (random = 0 when it plays), the judge's accuracy in self-play, seconds per game."""
  wins, games = played["wins"].astype(int), played["games"].astype(int)
  rates = wins / np.maximum(games, 1)
  elo = league.ratings(wins, games, names, anchor="random" if "random" in names else None,
                       bootstrap=bootstrap, seed=seed)
  diag = {nm: float(rates[i, i]) for i, nm in enumerate(names)}
  cost = {nm: float(played["seconds"][i, i] / max(games[i, i], 1)) for i, nm in enumerate(names)}
  n = len(names)
  return {"elo": elo["elo"], "elo_ci95": elo.get("elo_ci95"), "elo_honest": elo["elo_honest"],
          "elo_liar": elo["elo_liar"], "honest_win_rate": diag, "seconds_per_game": cost,
          "win_matrix": {f"{names[i]} vs {names[j]}": float(rates[i, j])
                         for i in range(n) for j in range(n)}}


def report_tables(names: list[str], played: dict, m: dict) -> str:
  """The ratings table and the win matrix, as markdown."""
  games = played["games"].astype(int)
  ci = m.get("elo_ci95") or {}
  table = [[nm, f"{m['elo'][nm]:.0f}" + (f" [{ci[nm][0]:.0f}, {ci[nm][1]:.0f}]" if ci else ""),
            f"{m['elo_honest'][nm]:.0f}", f"{m['elo_liar'][nm]:.0f}",
            metrics_lib.fmt_pct(m["honest_win_rate"][nm], metrics_lib.wilson_ci(
                round(m["honest_win_rate"][nm] * games[i, i]), games[i, i])),
            f"{1e3 * m['seconds_per_game'][nm]:.1f}"] for i, nm in enumerate(names)]
  table.sort(key=lambda r: -float(r[1].split()[0]))
  matrix = [[a] + [f"{100 * m['win_matrix'][f'{a} vs {b}']:.0f}%" for b in names] for a in names]
  return "\n".join([
      md_table(["debater", "Elo [95%]", "honest seat", "liar seat",
                "judge accuracy in self-play", "ms per game (self-play)"], table),
      "## Honest win rate, every pairing", "", md_table(["honest \\ liar"] + names, matrix)])


def plots(workdir: str, names: list[str], m: dict) -> None:
  """win_matrix.png and persuasiveness.png."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  rates = np.array([[m["win_matrix"][f"{a} vs {b}"] for b in names] for a in names])
  fig, ax = plt.subplots(figsize=(1.0 + 0.7 * len(names), 0.8 + 0.6 * len(names)))
  im = ax.imshow(rates, vmin=0, vmax=1, cmap="RdBu")
  ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=7)
  ax.set_yticks(range(len(names)), names, fontsize=7)
  ax.set_xlabel("liar")
  ax.set_ylabel("honest")
  for i in range(len(names)):
    for j in range(len(names)):
      ax.text(j, i, f"{100 * rates[i, j]:.0f}", ha="center", va="center", fontsize=6)
  fig.colorbar(im, ax=ax, label="honest win rate")
  ax.set_title("honest win rate, every pairing")
  io.savefig(fig, os.path.join(workdir, "win_matrix.png"))
  plt.close(fig)
  fig, ax = plt.subplots(figsize=(6, 4))
  elo, diag = m["elo"], m["honest_win_rate"]
  for nm in names:
    lo, hi = (m.get("elo_ci95") or {}).get(nm, [elo[nm]] * 2)
    ax.errorbar(elo[nm], diag[nm], xerr=[[elo[nm] - lo], [hi - elo[nm]]], fmt="o")
    ax.annotate(nm, (elo[nm], diag[nm]), fontsize=7, xytext=(3, 3), textcoords="offset points")
  ax.set_xlabel("Elo (mean of honest and liar seats; 95% bootstrap interval)")
  ax.set_ylabel("judge accuracy in self-play")
  ax.set_title("does a stronger debater pair make the judge more accurate?")
  ax.grid(alpha=0.3)
  io.savefig(fig, os.path.join(workdir, "persuasiveness.png"))
  plt.close(fig)
