"""Greedy against the public reproduction, and the learned network against greedy."""
from __future__ import annotations

import sys
import time

from experiments.bench.common import debate_setup


# The public PyTorch reproduction's greedy debater (machulsky61/tesis), k = 6, precommit, one game
# at a time, as measured on this 2-core machine (issue 18): the baseline for `bench_greedy`.
REPRODUCTION_GREEDY_GAMES_PER_SECOND = 4.64


def bench_greedy(judge_workdir: str | None, data_dir: str, k: int, games: int,
                 rounds: int = 3) -> dict:
  """Greedy against greedy (precommit, best lie, honest first) on `games` test images in one
  call, sharded over the devices: games/s after compilation (median of `rounds`), with the
  incremental judge (legal moves only) and with the whole network on every candidate."""
  import jax
  import numpy as np
  from debate import protocols, rollout
  from debate.debaters import make_debater
  from debate.games import mnist_pixels as g
  from debate.train import mesh as mesh_lib
  apply, params, gm, _, arch_name = debate_setup(judge_workdir, data_dir, k, games)
  mesh = mesh_lib.make_mesh({"data": -1, "model": 1})
  game = g.MnistPixels(k, gm.cand_P.shape[1])
  protocol = protocols.Protocol(precommit=True, first=0)
  out = {"k": k, "games": games, "judge_arch": arch_name, "devices": jax.device_count(),
         "reproduction_games_per_second": REPRODUCTION_GREEDY_GAMES_PER_SECOND}
  wins = {}
  for name, judge in (("incremental_judge", apply),
                      ("whole_network_judge", lambda p, m, i: apply(p, m, i))):
    d = make_debater("greedy", game, protocol, judge)
    player = rollout.make_player(mesh, game=game, protocol=protocol, debaters=(d, d),
                                 judge_apply=judge)
    t0 = time.perf_counter()
    fn = player.lower(jax.random.PRNGKey(0), params, (None, None), gm).compile()
    compile_s = time.perf_counter() - t0
    rates = []
    for _ in range(rounds):
      t0 = time.perf_counter()
      res = jax.device_get(fn(jax.random.PRNGKey(0), params, (None, None), gm))
      rates.append(games / (time.perf_counter() - t0))
    wins[name] = np.asarray(res.honest_wins_B)
    out[name] = {"games_per_second": float(np.median(rates)), "games_per_second_rounds": rates,
                 "compile_seconds": compile_s,
                 "x_reproduction": float(np.median(rates)) / REPRODUCTION_GREEDY_GAMES_PER_SECOND}
    print(name, out[name], file=sys.stderr, flush=True)
  out["same_verdicts"] = float((wins["incremental_judge"] == wins["whole_network_judge"]).mean())
  return out


def bench_imitation(judge_workdir: str | None, data_dir: str, k: int, games: int,
                    selfplay_workdir: str) -> dict:
  """The self-play network alone against greedy, move by move, along greedy-vs-greedy games
  (precommit, best lie, honest first): `debate.selfplay.diagnostics.imitation_gap`."""
  from debate import protocols
  from debate.games import mnist_pixels as g
  from debate.selfplay import diagnostics, loop
  apply, params, gm, _, arch_name = debate_setup(judge_workdir, data_dir, k, games)
  guide, net, meta = loop.latest_network(selfplay_workdir)
  game = g.MnistPixels(k, gm.cand_P.shape[1])
  out = diagnostics.imitation_gap(game, protocols.Protocol(precommit=True, first=0), apply,
                                  params, guide, net, gm)
  return {"k": k, "judge_arch": arch_name, "selfplay_workdir": selfplay_workdir, **out}
