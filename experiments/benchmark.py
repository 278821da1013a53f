r"""Benchmarks: judge training and inference, MCTS debate games vs a one-game-at-a-time reference.

  python -m experiments.benchmark --out runs/bench            # everything (about 10 minutes)
  python -m experiments.benchmark --parts judge --devices 8   # one part on 8 fake CPU devices

Writes `results.json` and `benchmark.md` to --out. Numbers go to docs/BENCHMARKS.md by hand, with
the machine and this command; tests never assert timings.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import subprocess
import sys
import time

SHIPPED_MNIST = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                             "data", "mnist")

def _setup_devices(n: int) -> None:
  if n > 1:
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                               f" --xla_force_host_platform_device_count={n}")


def _timeit(fn, min_seconds: float = 2.0, min_reps: int = 3) -> float:
  """Seconds per call (after one warm-up call), blocking on the result."""
  import jax
  jax.block_until_ready(fn())
  reps, t0 = 0, time.perf_counter()
  while reps < min_reps or time.perf_counter() - t0 < min_seconds:
    jax.block_until_ready(fn())
    reps += 1
  return (time.perf_counter() - t0) / reps


@contextlib.contextmanager
def _clock():
  """Wall seconds and cores busy (process CPU seconds per wall second) of the block."""
  out = {}
  cpu0, t0 = os.times(), time.perf_counter()
  yield out
  cpu1, out["wall"] = os.times(), time.perf_counter() - t0
  out["cores"] = (cpu1.user - cpu0.user + cpu1.system - cpu0.system) / out["wall"]


def matmul_peak() -> float:
  """Achieved FLOP/s of a large float32 matmul (JAX's default precision): the practical peak of
  this machine. 2048 x 2048 on CPU, 8192 x 8192 on an accelerator (2048 would not fill it)."""
  import jax
  import jax.numpy as jnp
  n = 2048 if jax.default_backend() == "cpu" else 8192
  a = jnp.ones((n, n), jnp.float32)
  f = jax.jit(lambda x: x @ x)
  return 2 * n ** 3 / _timeit(lambda: f(a))


def bench_judge(arch_name: str = "paper") -> dict:
  import jax
  import jax.numpy as jnp
  import numpy as np
  import optax
  from debate.train import mesh as mesh_lib, trainer
  from judges import mnist_judge as jl
  arch = jl.get_arch(arch_name)
  flops = jl.flops_per_example(arch)
  apply = jl.make_apply(arch)
  params = trainer.init_params(lambda r: jl.SparseJudge(arch, rngs=r), jax.random.PRNGKey(0))
  rng = np.random.default_rng(0)
  out = {"arch": arch_name, "flops_per_forward": flops, "devices": jax.device_count(),
         "forward": {}}
  fwd = jax.jit(apply)
  # An accelerator fills only at larger batches.
  batches = (1, 32, 256, 1024) + (() if jax.default_backend() == "cpu" else (8192, 32768))
  for b in batches:
    b = max(b, jax.device_count()) if b > 1 else b
    image = jnp.asarray(rng.random((b, 28, 28), np.float32))
    mask = jnp.asarray(rng.random((b, 28, 28)) < 6 / 784)
    sec = _timeit(lambda: fwd(params, mask, image))
    out["forward"][b] = {"evals_per_second": b / sec, "gflops": b * flops / sec / 1e9}
  # Training steps/s through the project's trainer step at batch 128.
  mesh = mesh_lib.make_mesh({"data": -1, "model": 1})
  task = trainer.TrainTask(init_model=lambda r: jl.SparseJudge(arch, rngs=r),
                           loss_fn=jl.make_loss(6), optimizer=optax.adam(1e-4), data=None)
  functional, state, shardings = trainer.make_state(task, mesh, [], 0)
  bs = mesh_lib.batch_sharding(mesh)
  step = trainer.make_step(task, functional, shardings, bs, None)
  batch = mesh_lib.to_global({"image": rng.integers(0, 255, (128, 28, 28)).astype(np.uint8),
                              "label": rng.integers(0, 10, 128).astype(np.int32)}, bs)
  holder = {"s": state}

  def one():
    holder["s"], m = step(holder["s"], batch, None)
    return m["loss"]
  sec = _timeit(one)
  out["train_steps_per_second_b128"] = 1 / sec
  out["train_gflops_b128"] = 3 * 128 * flops / sec / 1e9  # forward + backward ~ 3x forward
  return out


def bench_incremental(arch_name: str = "paper", batch: int = 256) -> dict:
  """Judge evaluations from a cached state: m new pixels (one exact update for all), then the
  dense layers; against the whole network on the same batch."""
  import jax
  import jax.numpy as jnp
  import numpy as np
  from debate.train import trainer
  from judges import mnist_judge as jl
  arch = jl.get_arch(arch_name)
  apply = jl.make_apply(arch)
  inc = apply.incremental
  params = trainer.init_params(lambda r: jl.SparseJudge(arch, rngs=r), jax.random.PRNGKey(0))
  rng = np.random.default_rng(0)
  image = jnp.asarray(rng.random((batch, 28, 28), np.float32))
  mask = jnp.zeros((batch, 28, 28), bool)
  pixels = jnp.asarray(np.stack([rng.choice(784, 6, replace=False) for _ in range(batch)]))
  prepared = jax.jit(inc.prepare)(params)
  cache = jax.jit(jax.vmap(inc.start, in_axes=(None, 0, 0)))(prepared, mask, image)
  fwd = jax.jit(apply)
  out = {"arch": arch_name, "batch": batch,
         "whole_network_evals_per_second": batch / _timeit(lambda: fwd(params, mask, image))}
  # The two matmuls no exact leaf can skip: the dense layers (every judged leaf) and conv2's
  # window (every pixel revealed since the root); their times bound any search from below.
  logits = jax.jit(jax.vmap(inc.logits, in_axes=(None, 0)))
  out["dense_layers_only_evals_per_second"] = batch / _timeit(lambda: logits(prepared, cache))
  window = jax.jit(lambda d, t: d @ t)
  d_h1 = jnp.asarray(rng.normal(size=(batch, prepared["conv2_window"].shape[0])), jnp.float32)
  out["window_matmul_only_pixels_per_second"] = batch / _timeit(
      lambda: window(d_h1, prepared["conv2_window"]))
  for m in (1, 3, 6):
    @jax.jit
    def leaf(prepared, cache, pixels, m=m):
      new = jax.vmap(inc.extend, in_axes=(None, 0, 0, None))(prepared, cache, pixels[:, :m],
                                                             jnp.ones(m, bool))
      return jax.vmap(inc.logits, in_axes=(None, 0))(prepared, new)
    out[f"evals_per_second_{m}_new_pixels"] = batch / _timeit(
        lambda: leaf(prepared, cache, pixels))
  return out


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


def matmul_floor(incremental: dict, debate: dict, k: int,
                 changed_cells: list[float] | None = None) -> dict:
  """The fastest our search could play with every judged leaf's dense layers and every pixel's
  conv2 window at their measured batched rates and nothing else: per game, judged leaves x
  dense time + pixel updates (judged leaves per move x reveals left) x window time. With the
  constant-judge variant's time per game added (`with_tree_search`): the search's own work at
  its measured cost (its tree differs: every verdict is a liar win). With `changed_cells`
  (`dense_cells_changed`): also as if the dense layers ran only on the pooled cells a leaf's
  new pixels can change, at the same rate per cell (a bound for a sparse dense layer)."""
  judged = debate["vectorized"]["judged_leaves_per_move"]
  pixels = sum(n * (k - t) for t, n in enumerate(judged))
  dense = debate["vectorized"]["judge_calls_per_game"] / \
      incremental["dense_layers_only_evals_per_second"]
  window = pixels / incremental["window_matmul_only_pixels_per_second"]
  ref = debate["reference"]["games_per_second"]

  def bound(seconds):
    return {"seconds_per_game": seconds, "games_per_second": 1 / seconds,
            "speedup_bound": 1 / seconds / ref}

  out = {"pixel_updates_per_game": pixels, **bound(dense + window)}
  tree = debate.get("vectorized_constant_judge")
  if tree:  # The same search with a constant judge: tree search, completions, bookkeeping.
    tree_s = 1 / tree["games_per_second"]
    out["with_tree_search"] = {"tree_search_seconds_per_game": tree_s,
                               **bound(dense + window + tree_s)}
    if changed_cells:
      share = sum(n * changed_cells[k - t - 1] for t, n in enumerate(judged)) / sum(judged)
      out["with_tree_search_changed_cells_only"] = {
          "dense_share": share, **bound(share * dense + window + tree_s)}
  return out


def dense_input_reach(pixels_N, arch_name: str = "paper"):
  """[N, 7, 7] bool: the pooled cells of the dense layer's input that revealing flat pixel
  `pixels_N[i]` can change (its conv2 window in `judges/incremental.py`, pooled)."""
  import numpy as np
  from judges import incremental as inc_lib
  from judges import mnist_judge as jl
  geo = inc_lib.Geometry.of(jl.get_arch(arch_name))
  pixels_N = np.asarray(pixels_N)

  def reach(i):  # Pooled rows (columns) that conv2's window of a pixel in row (column) i hits.
    start = (i + geo.pad0 - 2 * geo.half) // 2 - geo.pad1 // 2 - geo.half
    rows = start[:, None] + np.arange(geo.out2)
    inside = (rows >= 0) & (rows < inc_lib.CELLS)
    return ((rows[:, :, None] // 2 == np.arange(inc_lib.CELLS // 2)) & inside[:, :, None]).any(1)

  return reach(pixels_N // jl.W)[:, :, None] & reach(pixels_N % jl.W)[:, None, :]


def dense_cells_changed(data_dir: str, k: int, images: int = 200, samples: int = 20,
                        arch_name: str = "paper") -> list[float]:
  """For n = 1..k new pixels, uniformly random among an image's nonzero pixels (the first
  `images` test images, `samples` sets each): the mean share of the dense layer's pooled input
  cells those pixels can change (`dense_input_reach`); the other cells keep the root's values."""
  import numpy as np
  from debate.data import mnist
  rng = np.random.default_rng(0)
  test = mnist.load_mnist("test", data_dir)["image"][:images]
  out = []
  for n in range(1, k + 1):
    shares = [dense_input_reach(rng.choice(np.flatnonzero(image.reshape(-1) > 0), n,
                                           replace=False), arch_name).any(0).mean()
              for image in test for _ in range(samples)]
    out.append(float(np.mean(shares)))
  return out


def bench_leaf_costs(judge_workdir: str | None, data_dir: str, games: int = 100) -> dict:
  """Per leaf, on real digits (root: nothing revealed; leaves: n random nonzero pixels), in one
  batch of `games`: conv2's window for every new pixel (`extend`) against leaves built from
  per-pixel changes (`leaf_z2`), each with the dense layers; the per-pixel changes' cost per
  game and root (`deltas`); and the pooled conv1 cells two or more new pixels share."""
  import jax
  import jax.numpy as jnp
  import numpy as np
  from debate.games import mnist_pixels as g
  apply, params, gm, _, _ = _debate_setup(judge_workdir, data_dir, 6, games)
  inc = apply.incremental
  gm = jax.tree.map(jnp.asarray, gm)
  prepared = jax.jit(inc.prepare)(params)
  state = jax.vmap(g.initial_state)(gm)
  cache = jax.jit(jax.vmap(inc.start, in_axes=(None, 0, 0)))(
      prepared, jax.vmap(g.mask_HxW)(gm, state.revealed_P), gm.image_HxW)
  legal = jax.vmap(g.legal)(gm, state)
  deltas_fn = jax.jit(inc.deltas)
  deltas = deltas_fn(prepared, cache, gm.cand_P, legal)
  out = {"games": games, "deltas_ms_per_game_root":
         _timeit(lambda: deltas_fn(prepared, cache, gm.cand_P, legal)) / games * 1e3}
  old = jax.jit(lambda pr, c, p, a: jax.vmap(inc.logits, in_axes=(None, 0))(
      pr, jax.vmap(inc.extend, in_axes=(None, 0, 0, 0))(pr, c, p, a)))
  new = jax.jit(lambda pr, c, d, r, s, p, a: jax.vmap(inc.logits_of_z2, in_axes=(None, 0))(
      pr, inc.leaf_z2(pr, c, d, r, s, p, a)))
  rng = np.random.default_rng(0)
  rows = jnp.arange(games)
  for n in range(2, 7):
    slots = jnp.asarray(np.stack([rng.choice(int(m), n, replace=False) for m in gm.num_cand]),
                        jnp.int32)
    pixels = jnp.take_along_axis(gm.cand_P, slots, 1)
    active = jnp.ones(slots.shape, bool)
    np.testing.assert_allclose(old(prepared, cache, pixels, active),
                               new(prepared, cache, deltas, rows, slots, pixels, active),
                               rtol=1e-4, atol=1e-4)
    # Pooled conv1 cells (14 x 14, kept on a canvas with `c1` cells of margin) that two or
    # more of a leaf's pixels change: pixel (r, c) changes cells1 x cells1 from (r, c) // 2 - 1.
    c1, cells = inc.geo.cells1, 28 // 2
    first = np.asarray(pixels)[..., None] // np.array([28, 1]) % 28 // 2 - inc.geo.pad1 // 2
    shared = []
    for b in range(games):
      count = np.zeros((cells + 2 * c1,) * 2, int)
      for r0, c0 in first[b] + c1:
        count[r0:r0 + c1, c0:c0 + c1] += 1
      shared.append(int((count[c1:c1 + cells, c1:c1 + cells] >= 2).sum()))
    out[f"{n}_new_pixels"] = {
        "window_per_pixel_us_per_leaf": _timeit(
            lambda: old(prepared, cache, pixels, active)) / games * 1e6,
        "from_pixel_changes_us_per_leaf": _timeit(
            lambda: new(prepared, cache, deltas, rows, slots, pixels, active)) / games * 1e6,
        "shared_cells_mean": float(np.mean(shared)), "shared_cells_max": int(np.max(shared)),
        "default_cap": inc.default_cap(n)}
  return out


def _judged_leaves_per_move(env, gm, played_BxK, sims: int, n: int) -> list[float]:
  """How many leaves each move's search judged (mean over the first `n` games): every move's
  search again, on the positions of the games played."""
  import jax
  import jax.numpy as jnp
  import numpy as np
  from debate.search import evaluators, mcts
  from debate.games import mnist_pixels as g
  gm_n = jax.tree.map(lambda x: jnp.asarray(x[:n]), gm)
  count = jax.jit(lambda r, s: mcts.judged_leaves(evaluators.search_tree(r, env, gm_n, s, sims)))
  state = jax.vmap(g.initial_state)(gm_n)
  judged = []
  for t in range(env.k):
    judged.append(float(np.mean(count(jax.random.PRNGKey(3 + t), state))))
    state = jax.vmap(g.apply_move)(state, jnp.asarray(played_BxK[:n, t]))
  return judged


def _random_move(rng, gm, state):
  """Every game of the batch reveals one uniformly random legal pixel (seeded numpy `rng`)."""
  import jax
  import jax.numpy as jnp
  import numpy as np
  from debate.games import mnist_pixels as g
  legal = np.asarray(jax.vmap(g.legal)(gm, state))
  return jax.vmap(g.apply_move)(state, jnp.asarray([rng.choice(np.flatnonzero(x))
                                                    for x in legal]))


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
  apply, params, gm, _, _ = _debate_setup(judge_workdir, data_dir, k, games)
  gm = jax.tree.map(jnp.asarray, gm)
  env = _env(apply, params, gm, k)
  rng = np.random.default_rng(0)
  out = {"sims": sims, "games": games, "moves": {}}
  for move in moves:
    state = jax.vmap(g.initial_state)(gm)
    for _ in range(move):
      state = _random_move(rng, gm, state)
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
  apply, params, gm, _, _ = _debate_setup(judge_workdir, data_dir, k, games)
  gm = jax.tree.map(jnp.asarray, gm)
  env = _env(apply, params, gm, k)
  rng = np.random.default_rng(0)
  state = jax.vmap(g.initial_state)(gm)
  out = {"sims": sims, "games": games, "per_move": []}
  for move in range(k):
    row = {"move": move}
    for name, deltas in (("pixel_changes", True), ("window_per_pixel", False)):
      fn = jax.jit(lambda r, s, d=deltas: mcts.judged_leaves(
          evaluators.search_tree(r, env, gm, s, sims, pixel_deltas=d)))
      fn(jax.random.PRNGKey(0), state).block_until_ready()
      t0 = time.perf_counter()
      judged = np.asarray(fn(jax.random.PRNGKey(1), state))
      row[f"{name}_ms_per_game"] = (time.perf_counter() - t0) / games * 1e3
    row["judged_leaves_per_game"] = float(judged.mean())
    print(row, file=sys.stderr, flush=True)
    out["per_move"].append(row)
    state = _random_move(rng, gm, state)
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
  apply, params, gm, _, _ = _debate_setup(judge_workdir, data_dir, k, games)
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


def _debate_setup(judge_workdir: str | None, data_dir: str, k: int, games: int):
  """The judge (trained, or the paper's architecture at random init) and the first `games`
  test images as precommit games against the best lie, honest first."""
  import jax
  from debate import protocols
  from debate.data import mnist
  from debate.games import mnist_pixels as g
  from debate.train import trainer
  from judges import mnist_judge as jl
  if judge_workdir:
    arch_name, _, params, _ = jl.load_judge(judge_workdir)
  else:
    arch_name = "paper"
    params = trainer.init_params(lambda r: jl.SparseJudge(jl.get_arch("paper"), rngs=r),
                                 jax.random.PRNGKey(0))
  apply = jl.make_apply(jl.get_arch(arch_name))
  test = mnist.load_mnist("test", data_dir)
  images = mnist.to_float(test["image"][:games])
  labels = test["label"][:games]
  slots = g.slots_for(mnist.to_float(test["image"]))
  lies = protocols.best_lies(apply, params, images, labels, k, jax.random.PRNGKey(0))
  gm = g.make_examples(images, labels, lies, 0, slots)
  return apply, params, gm, (images, labels, lies), arch_name


def _env(apply, params, gm, k: int):
  """Precommit games with the truth in seat 0, moving first, for direct calls to the search."""
  from debate import protocols
  from debate.debaters.base import Env
  from debate.games import mnist_pixels as g
  return Env(g.MnistPixels(k, gm.cand_P.shape[1]), protocols.Protocol(precommit=True, first=0),
             apply, params)


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
  from judges import mnist_judge as jl
  variants = set(variants) | {"incremental_judge"}  # Ours: always run.
  apply, params, gm, (images, labels, lies), arch_name = _debate_setup(judge_workdir, data_dir,
                                                                       k, games)
  mesh = mesh_lib.make_mesh({"data": -1, "model": 1})
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
    player = rollout.make_player(mesh, game=game, protocol=protocol, debaters=(d, d),
                                 judge_apply=judge)
    t0 = time.perf_counter()
    players[name] = player.lower(jax.random.PRNGKey(1), params, (None, None),
                                 gm).compile()  # Compile only.
    timed[name] = {"games": games, "simulations_per_game": sims_per_game,
                   "compile_seconds": time.perf_counter() - t0}
    if name != "incremental_judge":  # Ours is timed in the rounds below.
      sec = _timeit(lambda p=players[name]: p(jax.random.PRNGKey(2), params, (None, None),
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
    with _clock() as c:
      out = jax.device_get(player(jax.random.PRNGKey(10 + r), params, (None, None), gm))
    ours_rounds.append(games / c["wall"])
    cores["ours"].append(c["cores"])
    if r == 0:
      played = out.actions_BxT
    with _clock() as c:
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
    judged = _judged_leaves_per_move(_env(apply, params, gm, k), gm, played, sims, n)
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
  apply, params, gm, _, arch_name = _debate_setup(judge_workdir, data_dir, k, games)
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
  apply, params, gm, _, arch_name = _debate_setup(judge_workdir, data_dir, k, games)
  guide, net, meta = loop.latest_network(selfplay_workdir)
  game = g.MnistPixels(k, gm.cand_P.shape[1])
  out = diagnostics.imitation_gap(game, protocols.Protocol(precommit=True, first=0), apply,
                                  params, guide, net, gm)
  return {"k": k, "judge_arch": arch_name, "selfplay_workdir": selfplay_workdir, **out}


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--out", default="runs/bench")
  p.add_argument("--parts", default="peak,judge,judge8,incremental,debate",
                 help="comma list of peak, judge, judge8, incremental, debate; and, not in "
                 "the default, judge_buckets (one move's search with leaf_value's batch "
                 "sizes varied), repeated_sets (judged leaves a table of verdicts by pixel set "
                 "would save), "
                 "leaf_costs (a leaf from per-pixel changes vs conv2's window per new pixel), "
                 "leaf_paths (each move's search with either), "
                 "greedy (greedy games/s against the public reproduction's), "
                 "imitation (the self-play network against greedy, move by move; needs "
                 "--selfplay_workdir) "
                 "and dense_cells (the dense layer's share a leaf's new pixels can change)")
  p.add_argument("--devices", type=int, default=1)
  p.add_argument("--judge_workdir", default=None)
  p.add_argument("--selfplay_workdir", default=None)
  p.add_argument("--data_dir", default=SHIPPED_MNIST)
  p.add_argument("--sims", type=int, default=100)
  p.add_argument("--k", type=int, default=6)
  p.add_argument("--games", type=int, default=200)
  p.add_argument("--ref_games", type=int, default=3, help="reference games per round")
  p.add_argument("--rounds", type=int, default=3,
                 help="debate part: rounds of (ours, reference); the median ratio is reported")
  p.add_argument("--count_games", type=int, default=None,
                 help="debate part: count judged leaves on this many of the games (default all; "
                 "0: no count)")
  p.add_argument("--variants", default=",".join(VARIANTS),
                 help="debate part: which judges the vectorized search runs with (comma list; "
                 "incremental_judge is always run)")
  a = p.parse_args(argv)
  _setup_devices(a.devices)
  import jax
  parts = a.parts.split(",")
  res = {"machine": {"platform": platform.platform(), "processor": platform.processor(),
                     "cpus": os.cpu_count(), "backend": jax.default_backend(),
                     "devices": jax.device_count()}}
  if "peak" in parts:
    res["matmul_peak_gflops"] = matmul_peak() / 1e9
  if "judge" in parts:
    res["judge"] = bench_judge()
  if "judge8" in parts:
    out = subprocess.run([sys.executable, "-m", "experiments.benchmark", "--parts", "judge",
                          "--devices", "8", "--out", os.path.join(a.out, "devices8")],
                         capture_output=True, text=True, check=True)
    del out
    with open(os.path.join(a.out, "devices8", "results.json")) as f:
      res["judge_8_devices"] = json.load(f)["judge"]
  if "incremental" in parts:
    res["incremental_judge"] = bench_incremental()
  if "debate" in parts:
    variants = tuple(a.variants.split(","))
    unknown = set(variants) - set(VARIANTS)
    if unknown:
      p.error(f"--variants {sorted(unknown)} unknown; allowed: {', '.join(VARIANTS)}")
    if a.rounds < 1:
      p.error(f"--rounds={a.rounds}; allowed: at least 1")
    if a.count_games is not None and a.count_games < 0:
      p.error(f"--count_games={a.count_games}; allowed: 0 (no count), a positive number, or "
              "leave it out (all games)")
    res["debate"] = bench_debate(a.judge_workdir, a.data_dir, a.sims, a.k, a.games, a.ref_games,
                                 variants, a.rounds, a.count_games)
  if "greedy" in parts:
    res["greedy"] = bench_greedy(a.judge_workdir, a.data_dir, a.k, a.games, a.rounds)
  if "imitation" in parts:
    if not a.selfplay_workdir:
      p.error("--parts imitation needs --selfplay_workdir (a configs/mnist_selfplay.py run)")
    res["imitation"] = bench_imitation(a.judge_workdir, a.data_dir, a.k, a.games,
                                       a.selfplay_workdir)
  if "dense_cells" in parts:
    res["dense_cells_changed"] = dense_cells_changed(a.data_dir, a.k)
  if "incremental_judge" in res and "judged_leaves_per_move" in res.get("debate", {}).get(
      "vectorized", {}):
    res["debate"]["matmul_floor"] = matmul_floor(res["incremental_judge"], res["debate"], a.k,
                                                 res.get("dense_cells_changed"))
  if "judge_buckets" in parts:
    res["judge_buckets"] = bench_judge_buckets(a.judge_workdir, a.data_dir, a.sims, a.k, a.games)
  if "leaf_paths" in parts:
    res["leaf_paths"] = bench_leaf_paths(a.judge_workdir, a.data_dir, a.sims, a.k, a.games)
  if "leaf_costs" in parts:
    res["leaf_costs"] = bench_leaf_costs(a.judge_workdir, a.data_dir)
  if "repeated_sets" in parts:
    res["repeated_sets"] = bench_repeated_sets(a.judge_workdir, a.data_dir, a.sims, a.k,
                                               a.games)
  from debate import io
  io.atomic_write_json(os.path.join(a.out, "results.json"), res)
  print(io.dumps(res))
  return 0


if __name__ == "__main__":
  sys.exit(main())
