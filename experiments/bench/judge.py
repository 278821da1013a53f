"""The judge: machine peak, training, inference, the incremental judge, leaf costs, matmul floor."""
from __future__ import annotations


from experiments.bench.common import debate_setup, timeit


def matmul_peak() -> float:
  """Achieved FLOP/s of a large float32 matmul (JAX's default precision): the practical peak of
  this machine. 2048 x 2048 on CPU, 8192 x 8192 on an accelerator (2048 would not fill it)."""
  import jax
  import jax.numpy as jnp
  n = 2048 if jax.default_backend() == "cpu" else 8192
  a = jnp.ones((n, n), jnp.float32)
  f = jax.jit(lambda x: x @ x)
  return 2 * n ** 3 / timeit(lambda: f(a))


def bench_judge(arch_name: str = "paper") -> dict:
  import jax
  import jax.numpy as jnp
  import numpy as np
  import optax
  from debate.train import mesh as mesh_lib, trainer
  from debate.train.runtime import Runtime
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
    sec = timeit(lambda: fwd(params, mask, image))
    out["forward"][b] = {"evals_per_second": b / sec, "gflops": b * flops / sec / 1e9}
  # Training steps/s through the project's trainer step at batch 128.
  mesh = mesh_lib.make_mesh({"data": -1, "model": 1})
  task = trainer.TrainTask(init_model=lambda r: jl.SparseJudge(arch, rngs=r),
                           loss_fn=jl.make_loss(6), optimizer=optax.adam(1e-4), data=None)
  functional, state, shardings = trainer.make_state(task, Runtime(mesh), 0)
  bs = mesh_lib.batch_sharding(mesh)
  step = trainer.make_step(task, functional, shardings, bs, None)
  batch = mesh_lib.to_global({"image": rng.integers(0, 255, (128, 28, 28)).astype(np.uint8),
                              "label": rng.integers(0, 10, 128).astype(np.int32)}, bs)
  holder = {"s": state}

  def one():
    holder["s"], m = step(holder["s"], batch, None)
    return m["loss"]
  sec = timeit(one)
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
         "whole_network_evals_per_second": batch / timeit(lambda: fwd(params, mask, image))}
  # The two matmuls no exact leaf can skip: the dense layers (every judged leaf) and conv2's
  # window (every pixel revealed since the root); their times bound any search from below.
  logits = jax.jit(jax.vmap(inc.logits, in_axes=(None, 0)))
  out["dense_layers_only_evals_per_second"] = batch / timeit(lambda: logits(prepared, cache))
  window = jax.jit(lambda d, t: d @ t)
  d_h1 = jnp.asarray(rng.normal(size=(batch, prepared["conv2_window"].shape[0])), jnp.float32)
  out["window_matmul_only_pixels_per_second"] = batch / timeit(
      lambda: window(d_h1, prepared["conv2_window"]))
  for m in (1, 3, 6):
    @jax.jit
    def leaf(prepared, cache, pixels, m=m):
      new = jax.vmap(inc.extend, in_axes=(None, 0, 0, None))(prepared, cache, pixels[:, :m],
                                                             jnp.ones(m, bool))
      return jax.vmap(inc.logits, in_axes=(None, 0))(prepared, new)
    out[f"evals_per_second_{m}_new_pixels"] = batch / timeit(
        lambda: leaf(prepared, cache, pixels))
  return out


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
  apply, params, gm, _, _ = debate_setup(judge_workdir, data_dir, 6, games)
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
         timeit(lambda: deltas_fn(prepared, cache, gm.cand_P, legal)) / games * 1e3}
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
        "window_per_pixel_us_per_leaf": timeit(
            lambda: old(prepared, cache, pixels, active)) / games * 1e6,
        "from_pixel_changes_us_per_leaf": timeit(
            lambda: new(prepared, cache, deltas, rows, slots, pixels, active)) / games * 1e6,
        "shared_cells_mean": float(np.mean(shared)), "shared_cells_max": int(np.max(shared)),
        "default_cap": inc.default_cap(n)}
  return out
