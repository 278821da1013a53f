"""The sparse judge, updated for newly revealed pixels (exactly).

A revealed pixel changes the judge's conv1 output only in a kernel-sized window, hence the
pooled conv1 output only in (kernel // 2 + 1)^2 cells, hence conv2's pre-activation (linear in
that output) only in a small window. A `Cache` holds a state's conv2 pre-activation and which
pixels it has revealed; `extend` reveals L more pixels at once: for each, conv1 on the few input
pixels around it (before and after it is revealed), the change of the pooled cells through
conv2 as one (cells x channels) @ (window) matmul (1.8 of conv2's 20 MFLOP for the paper's
judge), added into conv2's pre-activation. `logits` finishes with pool, relu and the dense layers
(6.4 MFLOP, the floor). Nothing per pixel copies the cache: conv1's output is recomputed from the
revealed pixels near each new one, which is cheaper on a CPU than keeping it. Tree search
evaluates every leaf from the root's cache, so a leaf costs the reveals between root and leaf,
not a whole forward pass. With many leaves per search, `deltas` computes once per search each
legal pixel's change when revealed alone, and `leaf_z2` builds a leaf from its new pixels'
changes, recomputing only the pooled conv1 cells two of them share. Same function as
`SparseJudge`: tests/test_judge.py checks the logits against the full network.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from models import sparse_cnn as jl

H = jl.H
CELLS = H // 2  # Pooled conv1 grid (14 x 14); conv2 runs on it.
_NEVER = 1 << 20  # Reveal time of a pixel that is not revealed.


class Cache(NamedTuple):
  time_Y0xY0: jax.Array    # int32: -1 where revealed, _NEVER elsewhere; the image at offset pad0
  image_Y0xY0: jax.Array   # float32: the image at offset pad0 (zeros around it)
  z2_CxCxC2: jax.Array     # conv2 pre-activation on the 14 x 14 grid


class Deltas(NamedTuple):
  """Each candidate pixel of a root state revealed alone (`Incremental.deltas`), and the root's
  pooled conv1 output: what `Incremental.leaf_z2` builds leaves from."""
  z2_PxOxOxC2: jax.Array   # conv2 pre-activation change on the pixel's out2 x out2 window
  h1_PxcxcxC1: jax.Array   # pooled conv1 change on the pixel's cells1 x cells1 block
  h1_CxCxC1: jax.Array     # the root's pooled conv1 output (14 x 14 grid)


@dataclasses.dataclass(frozen=True)
class Geometry:
  half: int     # kernel // 2
  pad1: int     # even, so conv1's output canvas has the network's 2x2 pooling cells
  cells1: int   # pooled conv1 cells one pixel can change, per axis
  out2: int     # conv2 outputs those cells can change, per axis
  span: int     # conv1 outputs around one pixel that cover those cells, per axis
  pad0: int     # image offset in the cache's canvases
  size0: int    # canvas size

  @staticmethod
  def of(arch: jl.JudgeArch) -> "Geometry":
    half = arch.kernel // 2
    pad1 = 2 * ((half + 1) // 2)
    cells1 = half + 1
    last_cell = (H - 1 + pad1 - half) // 2
    return Geometry(half, pad1, cells1, out2=cells1 + 2 * half, span=2 * cells1,
                    pad0=pad1 + half, size0=2 * last_cell + 2 * cells1 + 2 * half)


class Incremental:
  """Exact incremental evaluation of a `SparseJudge` of architecture `arch` (one game; vmap)."""

  def __init__(self, arch: jl.JudgeArch):
    self.arch = arch
    self.geo = Geometry.of(arch)
    g = self.geo
    # conv2 as a matrix from a (cells1 x cells1 x C1) block of its input to the
    # (out2 x out2 x C2) window of its output: kernel tap = input cell - output + 2 * half.
    tap = np.arange(g.cells1)[:, None] - np.arange(g.out2)[None, :] + 2 * g.half
    self._tap = np.clip(tap, 0, 2 * g.half)
    self._tap_ok = (tap >= 0) & (tap <= 2 * g.half)

  def prepare(self, params) -> dict[str, Any]:
    """Per-judge constants (computed once per search, not per leaf)."""
    g, a = self.geo, self.arch
    w2 = params["conv2"]["kernel"]  # [K, K, C1, C2]
    t = w2[self._tap[:, :, None, None], self._tap[None, None, :, :]]  # [c, o, c', o', C1, C2]
    ok = self._tap_ok[:, :, None, None] & self._tap_ok[None, None, :, :]
    t = jnp.where(ok[..., None, None], t, 0.0)
    t = t.transpose(0, 2, 4, 1, 3, 5).reshape(g.cells1 ** 2 * a.conv1, g.out2 ** 2 * a.conv2)
    # A pixel's own conv1 contribution inside its window: the flipped kernel, placed at the
    # pixel's row and column parity (the window starts at an even canvas row and column).
    w1 = params["conv1"]["kernel"][::-1, ::-1]  # [K, K, 2, C1]
    k = a.kernel
    own = jnp.zeros((2, 2, g.span, g.span, 2, a.conv1), w1.dtype)
    for pr in range(2):
      for pc in range(2):
        own = own.at[pr, pc, pr:pr + k, pc:pc + k].set(w1)
    # conv2 as seen from one pooled cell: its C1 values to the K x K x C2 outputs around it.
    cell = w2[::-1, ::-1].transpose(2, 0, 1, 3).reshape(a.conv1, -1)
    return {"conv2_window": t, "own_patch": own, "cell_kernel": cell, "params": params}

  def _canvas(self, x_HxW: jax.Array, fill) -> jax.Array:
    g = self.geo
    return jnp.pad(x_HxW, ((g.pad0, g.size0 - H - g.pad0),) * 2, constant_values=fill)

  def start(self, prepared, mask_HxW: jax.Array, image_HxW: jax.Array) -> Cache:
    """The cache of a state, by one full pass of conv1 and conv2."""
    p = prepared["params"]
    x = jl.judge_input(mask_HxW[None], image_HxW[None])
    z1 = _conv(x, p["conv1"])
    z2 = _conv(_pool(jax.nn.relu(z1)), p["conv2"])[0]
    time = jnp.where(mask_HxW, -1, _NEVER).astype(jnp.int32)
    return Cache(self._canvas(time, _NEVER), self._canvas(image_HxW.astype(jnp.float32), 0.0), z2)

  def _changes(self, prepared, cache: Cache, pixels_L: jax.Array, active_L: jax.Array,
               game_L: jax.Array | None = None):
    """Per pixel: its first pooled cell (row, column; canvas cells), the change of the pooled
    conv1 output on its cells1 x cells1 block and of conv2's pre-activation on its out2 x out2
    window, and the reveal times with the pixels added. One game's cache: in order (each pixel
    after the ones before it in `pixels_L`). With `game_L`, a batch of games' caches: each pixel
    alone, from the state of its game (the times are returned unchanged)."""
    g, a, p = self.geo, self.arch, prepared["params"]
    n = pixels_L.shape[0]
    r, c = pixels_L // H + g.pad0, pixels_L % H + g.pad0
    # Each pixel's block of pooled conv1 cells starts at canvas cell (sr, sc); conv1's outputs
    # over it need the input canvas rows and columns [2 sr, 2 sr + span + 2 half).
    sr, sc = (r - 2 * g.half) // 2, (c - 2 * g.half) // 2
    size = g.span + 2 * g.half
    if game_L is None:
      order = jnp.where(active_L, jnp.arange(n), _NEVER).astype(jnp.int32)
      time = cache.time_Y0xY0.at[r, c].min(order)
      take = jax.vmap(lambda x, i, j: jax.lax.dynamic_slice(x, (i, j), (size, size)),
                      in_axes=(None, 0, 0))
      when_LxSxS = take(time, 2 * sr, 2 * sc)
      value_LxSxS = take(cache.image_Y0xY0, 2 * sr, 2 * sc)
      value_L = cache.image_Y0xY0[r, c]
      before = jnp.arange(n)[:, None, None]
    else:
      time = cache.time_Y0xY0
      when_LxSxS = _patches(time, game_L, 2 * sr, 2 * sc, size)
      value_LxSxS = _patches(cache.image_Y0xY0, game_L, 2 * sr, 2 * sc, size)
      value_L = cache.image_Y0xY0[game_L, r, c]
      before = jnp.zeros((n, 1, 1), jnp.int32)
    seen = (when_LxSxS < before).astype(jnp.float32)  # Revealed before.
    x = jnp.stack([seen, seen * value_LxSxS], axis=-1)
    z1 = _conv(x, p["conv1"], "VALID")
    own = prepared["own_patch"][(r - 2 * g.half) % 2, (c - 2 * g.half) % 2]  # [L, S, S, 2, C1]
    z1_after = z1 + own[..., 0, :] + value_L[:, None, None, None] * own[..., 1, :]
    h1 = _pool(jax.nn.relu(jnp.concatenate([z1, z1_after])))
    h1 = h1.reshape(2, n, g.cells1, g.cells1, a.conv1)
    cell = jnp.arange(g.cells1) - g.pad1 // 2
    row_ok, col_ok = _inside(sr[:, None] + cell, CELLS), _inside(sc[:, None] + cell, CELLS)
    valid = row_ok[:, :, None] & col_ok[:, None, :] & active_L[:, None, None]
    d_h1 = (h1[1] - h1[0]) * valid[..., None]
    d_z2 = (d_h1.reshape(n, -1) @ prepared["conv2_window"]).reshape(n, g.out2, g.out2, a.conv2)
    return sr, sc, d_h1, d_z2, time

  def _window(self, s: jax.Array) -> jax.Array:
    """conv2 rows (columns) of the out2 window of a pixel whose block starts at canvas cell `s`
    (moved past the grid where outside it)."""
    return _or_drop(s[..., None] + jnp.arange(self.geo.out2) - self.geo.pad1 // 2 - self.geo.half,
                    CELLS)

  def extend(self, prepared, cache: Cache, pixels_L: jax.Array, active_L: jax.Array) -> Cache:
    """Reveals flat pixels `pixels_L` (not revealed yet, distinct) where `active_L` is True."""
    sr, sc, _, d_z2, time = self._changes(prepared, cache, pixels_L, active_L)
    z2 = cache.z2_CxCxC2.at[self._window(sr)[:, :, None], self._window(sc)[:, None, :]].add(
        d_z2, mode="drop")
    time = jnp.where(time < _NEVER, -1, _NEVER).astype(jnp.int32)  # Now all in the past.
    return Cache(time, cache.image_Y0xY0, z2)

  def deltas(self, prepared, cache: Cache, cand_GxP: jax.Array, legal_GxP: jax.Array,
             per_pass: int = 32) -> Deltas:
    """Every legal candidate pixel of G games revealed alone from its game's state in `cache`
    (batched): only legal slots are computed, `per_pass` per game at a time across the batch."""
    g, a, p = self.geo, self.arch, prepared["params"]
    n_games, n_slots = cand_GxP.shape
    flat = legal_GxP.reshape(-1)
    size = n_games * per_pass
    order = jnp.nonzero(flat, size=flat.size, fill_value=flat.size)[0]
    order = jnp.concatenate([order, jnp.full(-flat.size % size, flat.size, order.dtype)])

    def body(step, out):
      idx = jax.lax.dynamic_slice(order, (step * size,), (size,))
      ok = idx < flat.size
      game, slot = jnp.divmod(jnp.where(ok, idx, 0), n_slots)
      _, _, d_h1, d_z2, _ = self._changes(prepared, cache, cand_GxP[game, slot], ok, game)
      at = jnp.where(ok, game, n_games)
      return (out[0].at[at, slot].set(d_z2, mode="drop"),
              out[1].at[at, slot].set(d_h1, mode="drop"))

    zeros = (jnp.zeros((n_games, n_slots, g.out2, g.out2, a.conv2), jnp.float32),
             jnp.zeros((n_games, n_slots, g.cells1, g.cells1, a.conv1), jnp.float32))
    d_z2, d_h1 = jax.lax.fori_loop(0, -(-flat.sum() // size), body, zeros)
    inner = (slice(None),) + (slice(g.pad0, g.pad0 + H),) * 2
    x = jl.judge_input(cache.time_Y0xY0[inner] < _NEVER, cache.image_Y0xY0[inner])
    h1 = _pool(jax.nn.relu(_conv(x, p["conv1"])))
    return Deltas(d_z2, d_h1, h1)

  def leaf_z2(self, prepared, cache: Cache, deltas: Deltas, rows_B: jax.Array,
              slots_BxN: jax.Array, pixels_BxN: jax.Array, active_BxN: jax.Array,
              cap_per_leaf: int | None = None) -> jax.Array:
    """conv2's pre-activation of B leaves (batched, not vmapped): leaf b reveals candidate slots
    `slots_BxN[b]` (flat pixels `pixels_BxN[b]`) where active, beyond the state of game
    `rows_B[b]` of `cache` and `deltas` (every game's root). Each new pixel adds its window from
    `deltas`. Pixels interact only through the pooled conv1 cells they share (relu and max pool
    are the only nonlinear steps before conv2), so each cell shared by two or more new pixels
    is recomputed (conv1 on its input patch) and its error fed through conv2. Those cells are
    gathered across the batch and computed `cap_per_leaf * B` per pass (default:
    `default_cap`), in as many passes as they fill (usually one). Exact either way."""
    g, a, p = self.geo, self.arch, prepared["params"]
    b_n, n = slots_BxN.shape
    c1 = g.cells1
    batch = jnp.arange(b_n)
    d = deltas.z2_PxOxOxC2[rows_B[:, None], slots_BxN] * active_BxN[..., None, None, None]
    r, c = pixels_BxN // H + g.pad0, pixels_BxN % H + g.pad0
    sr, sc = (r - 2 * g.half) // 2, (c - 2 * g.half) // 2
    z2 = cache.z2_CxCxC2[rows_B].at[batch[:, None, None, None], self._window(sr)[..., None],
                                    self._window(sc)[..., None, :]].add(d, mode="drop")
    if n < 2:
      return z2
    # Cells (network grid) of each pixel's block; which new pixels touch each of them.
    first_r, first_c = sr - g.pad1 // 2, sc - g.pad1 // 2  # [B, N]
    cell_r = first_r[..., None] + jnp.arange(c1)  # [B, N, c1]
    cell_c = first_c[..., None] + jnp.arange(c1)

    def hits(cell, first):  # [B, N, c1, N]: cell i, u lies in pixel j's block
      return (cell[..., None] >= first[:, None, None, :]) & \
          (cell[..., None] < first[:, None, None, :] + c1)

    touch = hits(cell_r, first_r)[:, :, :, None, :] & hits(cell_c, first_c)[:, :, None, :, :]
    touch = touch & active_BxN[:, None, None, None, :]  # [B, N, c1, c1, N]
    inside = _inside(cell_r, CELLS)[..., :, None] & _inside(cell_c, CELLS)[..., None, :]
    owner = jnp.argmax(touch, axis=-1) == jnp.arange(n)[None, :, None, None]  # Lowest j.
    shared = (touch.sum(-1) >= 2) & owner & inside & active_BxN[..., None, None]
    flat = shared.reshape(-1)
    size = 2 + 2 * g.half  # Input patch of one pooled cell.
    yy = jnp.arange(size)

    # Shared cells first; then computed `cap` at a time, as many times as they fill (once,
    # unless this batch has more than `cap`). A loop rather than a `cond` between two
    # capacities, which took longer on this CPU than the corrections themselves.
    full = flat.size
    cap = min(full, b_n * (self.default_cap(n) if cap_per_leaf is None else cap_per_leaf))
    cap = max(cap, 1)
    order = jnp.nonzero(flat, size=full, fill_value=full)[0]
    order = jnp.concatenate([order, jnp.full(-full % cap, full, order.dtype)])

    def correct(step: int, z2: jax.Array) -> jax.Array:
      idx = jax.lax.dynamic_slice(order, (step * cap,), (cap,))
      ok = idx < full
      b, i, u, v = jnp.unravel_index(jnp.where(ok, idx, 0), shared.shape)
      game = rows_B[b]
      ca, cb = cell_r[b, i, u], cell_c[b, i, v]  # [cap]
      r0, c0 = 2 * ca + g.pad1, 2 * cb + g.pad1  # Patch origin on the canvas.
      when = _patches(cache.time_Y0xY0, game, r0, c0, size)
      value = _patches(cache.image_Y0xY0, game, r0, c0, size)
      pr, pc = r[b] - r0[:, None], c[b] - c0[:, None]  # New pixels, patch coordinates [cap, N]
      new = ((pr[:, :, None, None] == yy[:, None]) & (pc[:, :, None, None] == yy) &
             active_BxN[b][:, :, None, None]).any(1)
      m = ((when < _NEVER) | new).astype(jnp.float32)
      z1 = _conv(jnp.stack([m, m * value], -1), p["conv1"], "VALID")  # [cap, 2, 2, C1]
      h1 = jax.nn.relu(z1.max(axis=(1, 2)))
      alone = deltas.h1_PxcxcxC1[game[:, None], slots_BxN[b],
                                 jnp.clip(ca[:, None] - first_r[b], 0, c1 - 1),
                                 jnp.clip(cb[:, None] - first_c[b], 0, c1 - 1)]
      alone = (alone * touch[b, i, u, v][..., None]).sum(1)
      err = (h1 - deltas.h1_CxCxC1[game, ca, cb] - alone) * ok[:, None]
      k = 2 * g.half + 1
      out = (err @ prepared["cell_kernel"]).reshape(cap, k, k, a.conv2)
      # One row of C2 values per output cell: a flat scatter (faster on CPU than 3 indices).
      wr, wc = ca[:, None] + jnp.arange(k) - g.half, cb[:, None] + jnp.arange(k) - g.half
      at = (b[:, None, None] * CELLS + wr[:, :, None]) * CELLS + wc[:, None, :]
      at = jnp.where(_inside(wr, CELLS)[:, :, None] & _inside(wc, CELLS)[:, None, :], at,
                     z2.size // a.conv2)
      flat_z2 = z2.reshape(-1, a.conv2).at[at.reshape(-1)].add(out.reshape(-1, a.conv2),
                                                                 mode="drop")
      return flat_z2.reshape(z2.shape)

    return jax.lax.fori_loop(0, -(-flat.sum() // cap), correct, z2)

  def default_cap(self, n: int) -> int:
    """Shared cells per leaf that `leaf_z2` computes in one pass: 1.2 to 2 times the mean on
    MNIST digits (13 against 10.7 with 6 new pixels, at most 27; docs/BENCHMARKS.md)."""
    return math.ceil(0.27 * self.geo.cells1 ** 2 * (n - 1))

  def logits(self, prepared, cache: Cache) -> jax.Array:
    return self.logits_of_z2(prepared, cache.z2_CxCxC2)

  def logits_of_z2(self, prepared, z: jax.Array) -> jax.Array:
    """The rest of the network from conv2's pre-activation (one state)."""
    p = prepared["params"]
    h2 = jax.nn.relu(jnp.maximum(jnp.maximum(z[0::2, 0::2], z[0::2, 1::2]),
                                 jnp.maximum(z[1::2, 0::2], z[1::2, 1::2])))
    h = jax.nn.relu(h2.reshape(-1) @ p["dense"]["kernel"] + p["dense"]["bias"])
    return h @ p["out"]["kernel"] + p["out"]["bias"]


def _conv(x_BxHxWxC: jax.Array, layer, padding: str = "SAME") -> jax.Array:
  return jax.lax.conv_general_dilated(x_BxHxWxC, layer["kernel"], (1, 1), padding,
                                      dimension_numbers=("NHWC", "HWIO", "NHWC")) + layer["bias"]


def _patches(x_GxYxY: jax.Array, game_L: jax.Array, r_L: jax.Array, c_L: jax.Array,
             size: int) -> jax.Array:
  """[L, size, size]: patch l of game `game_L[l]`'s canvas, from row r_L[l], column c_L[l]."""
  return jax.vmap(lambda k, i, j: jax.lax.dynamic_slice(x_GxYxY, (k, i, j), (1, size, size))[0])(
      game_L, r_L, c_L)


def _inside(i: jax.Array, n: int) -> jax.Array:
  return (i >= 0) & (i < n)


def _or_drop(i: jax.Array, n: int) -> jax.Array:
  """Indices outside [0, n) moved past the end, where a scatter with mode='drop' ignores them."""
  return jnp.where(_inside(i, n), i, n)


def _pool(x_BxHxWxC: jax.Array) -> jax.Array:
  b, h, w, c = x_BxHxWxC.shape
  return x_BxHxWxC.reshape(b, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))
