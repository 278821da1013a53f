"""Greedy against the public reproduction, and the learned network against greedy."""
from __future__ import annotations

import sys
import time

from experiments.bench.common import debate_setup


# QUOTED, not measured by this benchmark: the public PyTorch reproduction's greedy debater
# (machulsky61/tesis), k = 6, precommit, one game at a time in eager PyTorch (no compilation),
# as a session measured it on this 2-core machine for issue 18. PyTorch is not a dependency, so
# no run here re-measures it; results carry it under `quoted_reproduction_games_per_second`.
QUOTED_REPRODUCTION_GREEDY_GAMES_PER_SECOND = 4.64


def _one_at_a_time(player, params, gm, games: int) -> dict:
  """Ours as the reproduction plays: one game per call, `games` calls in a row on one device."""
  import jax
  import numpy as np
  one = lambda i: jax.tree.map(lambda x: x[i:i + 1], gm)
  t0 = time.perf_counter()
  fn = player.lower(jax.random.PRNGKey(0), params, (None, None), one(0)).compile()
  compile_s = time.perf_counter() - t0
  t0 = time.perf_counter()
  wins = [bool(np.asarray(fn(jax.random.PRNGKey(0), params, (None, None), one(i)).honest_wins_B)[0])
          for i in range(games)]
  play_s = time.perf_counter() - t0
  return {"games": games, "honest_wins": wins, "compile_seconds": compile_s,
          "play_seconds": play_s,
          "games_per_second": games / play_s,
          "games_per_second_with_compile": games / (play_s + compile_s)}


def bench_greedy(judge_workdir: str | None, data_dir: str, k: int, games: int,
                 rounds: int = 3, single_games: int = 20) -> dict:
  """Greedy against greedy (precommit, best lie, honest first) on `games` test images in one
  call, sharded over the devices: games/s after compilation (median of `rounds`) and counting
  the one compilation, with the incremental judge (legal moves only) and with the whole network
  on every candidate; and with the incremental judge one game per call (`single_games` calls on
  one device), the way the public reproduction plays."""
  import jax
  import numpy as np
  from debate import protocols, rollout
  from debate.debaters import make_debater
  from debate.games import mnist_pixels as g
  from debate.train import mesh as mesh_lib
  from debate.train.runtime import Runtime
  apply, params, gm, _, arch_name = debate_setup(judge_workdir, data_dir, k, games)
  mesh = mesh_lib.make_mesh({"data": -1, "model": 1})
  rt = Runtime(mesh)
  game = g.MnistPixels(k, gm.cand_P.shape[1])
  protocol = protocols.Protocol(precommit=True, first=0)
  quoted = QUOTED_REPRODUCTION_GREEDY_GAMES_PER_SECOND
  out = {"k": k, "games": games, "judge_arch": arch_name, "devices": jax.device_count(),
         "quoted_reproduction_games_per_second": quoted}
  wins = {}
  for name, judge in (("incremental_judge", apply),
                      ("whole_network_judge", lambda p, m, i: apply(p, m, i))):
    d = make_debater("greedy", game, protocol, judge)
    player = rollout.make_player(rt, game=game, protocol=protocol, debaters=(d, d),
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
    gps = float(np.median(rates))
    out[name] = {"games_per_second": gps, "games_per_second_rounds": rates,
                 "compile_seconds": compile_s,
                 # One call of `games` games, its compilation counted.
                 "games_per_second_with_compile": games / (compile_s + games / gps),
                 "x_quoted_reproduction": gps / quoted}
    if name == "incremental_judge" and single_games:
      single = rollout.make_player(None, game=game, protocol=protocol, debaters=(d, d),
                                   judge_apply=judge)
      one = _one_at_a_time(single, params, gm, min(single_games, games))
      one["x_quoted_reproduction"] = one["games_per_second"] / quoted
      # The same games as in the batch: a game does not depend on what else is in its call.
      one["same_verdicts_as_batched"] = bool(
          (np.asarray(one.pop("honest_wins")) == wins[name][:one["games"]]).all())
      out["incremental_judge_one_game_per_call"] = one
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
  from debate.games import mnist_network
  from models import policy_value as pv
  guide, net, meta = loop.latest_network(
      selfplay_workdir, lambda meta: mnist_network.make_guide(pv.get_arch(meta["net_arch"])))
  game = g.MnistPixels(k, gm.cand_P.shape[1])
  out = diagnostics.imitation_gap(game, protocols.Protocol(precommit=True, first=0), apply,
                                  params, guide, net, gm)
  return {"k": k, "judge_arch": arch_name, "selfplay_workdir": selfplay_workdir, **out}
