"""MCTS debate games against a one-game-at-a-time reference, and the search's diagnostics."""
from __future__ import annotations

import math
import sys
import time

from experiments.bench.common import (clock, debate_setup, env_for, judged_leaves_per_move,
                                      random_move, timeit)


def _reference_game(judge_b1, params, image, cands, honest_claim, liar_claim, k, sims, rng):
  """One game at a time, one judge call (batch 1) per leaf: a plain Python PUCT MCTS."""
  import numpy as np
  n = len(cands)

  def verdict(revealed):
    mask = np.zeros(784, bool)
    mask[cands[list(revealed)]] = True
    logits = np.asarray(judge_b1(params, mask.reshape(1, 28, 28), image[None]))[0]
    return 1.0 if logits[honest_claim] > logits[liar_claim] else -1.0

  def search(revealed, mover):  # Returns the move for `mover` (0 honest, 1 liar).
    stats = {}  # node key -> (N[a], W[a]) over legal actions

    def simulate(rev, player):
      key = tuple(sorted(rev))
      if len(rev) == k:
        v = verdict(rev)
        return v if player == 0 else -v
      legal = [a for a in range(n) if a not in rev]
      if key not in stats:  # Expand; value by a random completion.
        stats[key] = (np.zeros(n), np.zeros(n))
        extra = rng.choice(legal, size=k - len(rev), replace=False)
        v = verdict(set(rev) | set(extra.tolist()))
        return v if player == 0 else -v
      N, W = stats[key]
      total = N.sum()
      q = np.where(N > 0, W / np.maximum(N, 1), 0.0)
      u = q + (1.0 / len(legal)) * math.sqrt(max(total, 1)) / (1 + N)
      a = max(legal, key=lambda i: u[i])
      v = -simulate(rev | {a}, 1 - player)
      N[a] += 1
      W[a] += v
      return v

    for _ in range(sims):
      simulate(set(revealed), mover)
    N, _ = stats[tuple(sorted(revealed))]
    return int(max((a for a in range(n) if a not in revealed), key=lambda i: N[i]))

  revealed = set()
  for t in range(k):
    revealed.add(search(revealed, t % 2))
  return verdict(revealed) > 0


VARIANTS = ("incremental_judge", "whole_network_judge", "linear_stand_in_judge",
            "constant_judge")


def bench_debate(judge_workdir: str | None, data_dir: str, sims: int, k: int, games: int,
                 ref_games: int, variants: tuple[str, ...] = VARIANTS, rounds: int = 3,
                 count_games: int | None = None) -> dict:
  """Ours (all `games` in one call) against the reference (`ref_games` per round), alternating
  over `rounds`. Judged leaves are counted on the first `count_games` games (default: all; 0:
  not counted)."""
  import jax
  import jax.numpy as jnp
  import numpy as np
  from debate import protocols, rollout
  from debate.debaters import make_debater
  from debate.games import mnist_pixels as g
  from debate.train import mesh as mesh_lib
  from debate.train.runtime import Runtime
  from judges import mnist_judge as jl
  variants = set(variants) | {"incremental_judge"}  # Ours: always run.
  apply, params, gm, (images, labels, lies), arch_name = debate_setup(judge_workdir, data_dir,
                                                                       k, games)
  mesh = mesh_lib.make_mesh({"data": -1, "model": 1})
  rt = Runtime(mesh)
  game = g.MnistPixels(k, gm.cand_P.shape[1])
  protocol = protocols.Protocol(precommit=True, first=0)
  sims_per_game = k * (sims + 1) + k  # Simulations, a root rollout per move, the verdict.
  timed, players = {}, {}
  # The same search judging every leaf with the whole network (no `incremental` attribute);
  # with a cheap linear stand-in (the judge's input is still built: a gather of its mask); and
  # with constant logits (every verdict a liar win, nothing built): the tree search alone.
  w = jax.random.normal(jax.random.PRNGKey(0), (28 * 28 * 2, 10)) * 0.01
  free = lambda p, m, i: jl.judge_input(m, i).reshape(m.shape[0], -1) @ w
  for name, judge in (("incremental_judge", apply),
                      ("whole_network_judge", lambda p, m, i: apply(p, m, i)),
                      ("linear_stand_in_judge", free),
                      ("constant_judge", lambda p, m, i: jnp.zeros((m.shape[0], 10)))):
    if name not in variants:
      continue
    d = make_debater("mcts", game, protocol, judge, sims=sims)
    player = rollout.make_player(rt, game=game, protocol=protocol, debaters=(d, d),
                                 judge_apply=judge)
    t0 = time.perf_counter()
    players[name] = player.lower(jax.random.PRNGKey(1), params, (None, None),
                                 gm).compile()  # Compile only.
    timed[name] = {"games": games, "simulations_per_game": sims_per_game,
                   "compile_seconds": time.perf_counter() - t0}
    if name != "incremental_judge":  # Ours is timed in the rounds below.
      sec = timeit(lambda p=players[name]: p(jax.random.PRNGKey(2), params, (None, None),
                                              gm).honest_wins_B,
                    min_seconds=1, min_reps=2)
      timed[name].update(seconds=sec, games_per_second=games / sec,
                         simulations_per_second=games * sims_per_game / sec)
  # Ours and the reference alternate, `rounds` times: this VM's speed drifts by 10-40% over
  # minutes, so the ratio is taken within each round and the median reported. Round r's
  # reference plays the next `ref_games` of our images (a game's cost depends on its image).
  judge_b1 = jax.jit(apply)
  jax.block_until_ready(judge_b1(params, np.zeros((1, 28, 28), bool), images[:1]))  # Compile.
  rng = np.random.default_rng(0)
  player = players["incremental_judge"]
  ours_rounds, ref_rounds, cores = [], [], {"ours": [], "reference": []}
  for r in range(rounds):
    with clock() as c:
      out = jax.device_get(player(jax.random.PRNGKey(10 + r), params, (None, None), gm))
    ours_rounds.append(games / c["wall"])
    cores["ours"].append(c["cores"])
    if r == 0:
      played = out.actions_BxT
    with clock() as c:
      for i in (np.arange(ref_games) + r * ref_games) % games:
        cands = gm.cand_P[i][:gm.num_cand[i]]
        _reference_game(judge_b1, params, images[i], cands, int(labels[i]), int(lies[i]), k,
                        sims, rng)
    ref_rounds.append(ref_games / c["wall"])
    cores["reference"].append(c["cores"])
    print(f"round {r}: ours {ours_rounds[-1]:.4g} games/s ({cores['ours'][-1]:.2f} cores busy), "
          f"reference {ref_rounds[-1]:.4g} games/s ({cores['reference'][-1]:.2f} cores busy)",
          file=sys.stderr, flush=True)
  ours = timed["incremental_judge"]
  gps = float(np.median(ours_rounds))
  ours.update(games_per_second=gps, seconds=games / gps, simulations_per_second=gps *
              sims_per_game, games_per_second_rounds=ours_rounds, devices=jax.device_count(),
              cores_busy_rounds=cores["ours"])
  n = games if count_games is None else min(count_games, games)
  if n:
    judged = judged_leaves_per_move(env_for(apply, params, gm, k), gm, played, sims, n)
    ours["judged_leaves_per_move"] = judged
    ours["judged_leaves_counted_on_games"] = n
    # Judge calls: judged leaves, a root rollout per move, the final verdict.
    ours["judge_calls_per_game"] = sum(judged) + k + 1
  ratios = [a / b for a, b in zip(ours_rounds, ref_rounds)]
  pooled_ref = rounds * ref_games / sum(ref_games / x for x in ref_rounds)
  ref = {"games": ref_games, "rounds": rounds, "games_per_second": float(np.median(ref_rounds)),
         "games_per_second_all_rounds": pooled_ref,
         "games_per_second_rounds": ref_rounds, "judge_calls_per_game": k * sims,
         "cores_busy_rounds": cores["reference"]}
  out = {"k": k, "sims": sims, "judge_arch": arch_name, "vectorized": ours, "reference": ref,
         "speedup": float(np.median(ratios)), "speedup_rounds": ratios}
  out.update({f"vectorized_{name}": timed[name] for name in timed if name != "incremental_judge"})
  return out


def bench_judge_buckets(judge_workdir: str | None, data_dir: str, sims: int, k: int, games: int,
                        moves: tuple[int, ...] = (0, 3), buckets: tuple[int, ...] = (1, 4, 8),
                        rounds: int = 2) -> dict:
  """One move's search (after seeded random earlier moves) with `leaf_value` judging the
  games that need it rounded up to 1 / `buckets` of the batch (1: the whole batch whenever any
  game needs it): the same trees, timed alternately over `rounds`; per judged leaf, tree search
  included; and each variant's compile time."""
  import jax
  import jax.numpy as jnp
  import numpy as np
  from debate.search import evaluators, mcts
  from debate.games import mnist_pixels as g
  apply, params, gm, _, _ = debate_setup(judge_workdir, data_dir, k, games)
  gm = jax.tree.map(jnp.asarray, gm)
  env = env_for(apply, params, gm, k)
  rng = np.random.default_rng(0)
  out = {"sims": sims, "games": games, "moves": {}}
  for move in moves:
    state = jax.vmap(g.initial_state)(gm)
    for _ in range(move):
      state = random_move(rng, gm, state)
    fns, compile_seconds = {}, {}
    for c in buckets:
      t0 = time.perf_counter()
      fns[c] = jax.jit(lambda r, s, c=c: mcts.judged_leaves(
          evaluators.search_tree(r, env, gm, s, sims, judge_buckets=c))).lower(
              jax.random.PRNGKey(0), state).compile()
      compile_seconds[c] = time.perf_counter() - t0
    res = {c: [] for c in buckets}
    for r in range(rounds):
      for c, fn in fns.items():
        t0 = time.perf_counter()
        judged = np.asarray(fn(jax.random.PRNGKey(r), state))
        sec = time.perf_counter() - t0
        res[c].append({"seconds": sec, "judged_leaves_per_game": float(judged.mean()),
                       "us_per_judged_leaf": sec / judged.sum() * 1e6})
        print(f"move {move} round {r} buckets {c}: {sec:.1f} s, "
              f"{res[c][-1]['us_per_judged_leaf']:.0f} us per judged leaf", file=sys.stderr,
              flush=True)
    out["moves"][move] = {f"buckets_{c}": {"rounds": v, "compile_seconds": compile_seconds[c]}
                          for c, v in res.items()}
  return out


def bench_leaf_paths(judge_workdir: str | None, data_dir: str, sims: int, k: int,
                     games: int) -> dict:
  """Each move's search (earlier moves seeded random), one call for all `games`, with leaves
  from per-pixel changes and with conv2's window per new pixel: the same trees, timed one after
  the other (one run each, after a warm-up); ms per game."""
  import jax
  import jax.numpy as jnp
  import numpy as np
  from debate.search import evaluators, mcts
  from debate.games import mnist_pixels as g
  apply, params, gm, _, _ = debate_setup(judge_workdir, data_dir, k, games)
  gm = jax.tree.map(jnp.asarray, gm)
  env = env_for(apply, params, gm, k)
  rng = np.random.default_rng(0)
  state = jax.vmap(g.initial_state)(gm)
  out = {"sims": sims, "games": games, "per_move": []}
  for move in range(k):
    row = {"move": move}
    for name, deltas in (("pixel_changes", True), ("window_per_pixel", False)):
      fn = jax.jit(lambda r, s, d=deltas: mcts.judged_leaves(
          evaluators.search_tree(r, env, gm, s, sims, leaf_deltas=d)))
      fn(jax.random.PRNGKey(0), state).block_until_ready()
      t0 = time.perf_counter()
      judged = np.asarray(fn(jax.random.PRNGKey(1), state))
      row[f"{name}_ms_per_game"] = (time.perf_counter() - t0) / games * 1e3
    row["judged_leaves_per_game"] = float(judged.mean())
    print(row, file=sys.stderr, flush=True)
    out["per_move"].append(row)
    state = random_move(rng, gm, state)
  for name in ("pixel_changes", "window_per_pixel"):
    out[f"{name}_ms_per_game"] = sum(r[f"{name}_ms_per_game"] for r in out["per_move"])
  return out


def bench_repeated_sets(judge_workdir: str | None, data_dir: str, sims: int, k: int,
                        games: int) -> dict:
  """How many judged leaves a table of verdicts keyed by the set of revealed pixels (the judge
  sees the set, not the order) would have answered exactly: sets judged before in the same
  search, and in the same game's earlier searches. Plays `games` MCTS games and records every
  set `leaf_value` is asked to judge (a host callback: slow, for counting only)."""
  from unittest import mock
  import jax
  import numpy as np
  from jax.experimental import io_callback
  from debate import protocols, rollout
  from debate.debaters import make_debater
  from debate.search import evaluators
  from debate.games import mnist_pixels as g
  apply, params, gm, _, _ = debate_setup(judge_workdir, data_dir, k, games)
  log = []
  judge = evaluators.leaf_value

  def recording(env, root, leaf_B, left, need_B, buckets=4):
    io_callback(lambda *a: log.append([np.asarray(x) for x in a]), None, left, leaf_B.revealed_P,
                need_B, ordered=True)
    return judge(env, root, leaf_B, left, need_B, buckets)

  game = g.MnistPixels(k, gm.cand_P.shape[1])
  protocol = protocols.Protocol(precommit=True, first=0)
  d = make_debater("mcts", game, protocol, apply, sims=sims)
  with mock.patch.object(evaluators, "leaf_value", recording):
    player = rollout.make_player(None, game=game, protocol=protocol, debaters=(d, d),
                                 judge_apply=apply)
    jax.block_until_ready(player(jax.random.PRNGKey(1), params, (None, None), gm))
  per_left = {}
  in_game = [set() for _ in range(games)]
  in_search, last = None, None
  for left, revealed_BxP, need_B in log:
    left = int(left)
    if left != last:  # A new move's search.
      in_search, last = [set() for _ in range(games)], left
    row = per_left.setdefault(left, [0, 0, 0])
    for b in np.flatnonzero(need_B):
      key = revealed_BxP[b].tobytes()
      row[0] += 1
      row[1] += key in in_search[b]
      row[2] += key in in_game[b]
      in_search[b].add(key)
      in_game[b].add(key)
  out = {"sims": sims, "games": games, "per_move": []}
  for left in sorted(per_left, reverse=True):
    judged, search, game = (x / games for x in per_left[left])
    out["per_move"].append({"reveals_left": left, "judged_leaves_per_game": judged,
                            "seen_in_this_search": search, "seen_in_this_game": game})
  total = [sum(m[key] for m in out["per_move"]) for key in
           ("judged_leaves_per_game", "seen_in_this_search", "seen_in_this_game")]
  out.update(judged_leaves_per_game=total[0], seen_in_this_search=total[1],
             seen_in_this_game=total[2])
  return out
