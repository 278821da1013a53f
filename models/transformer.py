"""One decoder-only transformer for judges and debaters (llama-style: RMSNorm, SwiGLU, rotary
positions, grouped key/value heads, tied embeddings), in flax.nnx, sizes from the config.

Shape suffixes: B batch, T tokens, D model width, H query heads, K key/value heads, E head
width, F MLP width, V vocabulary. Padding (token 0) is masked as a key; attention is causal, so
a sequence's real tokens compute the same whatever padding follows them.

Sharding (`SHARDING_RULES`, regexes on parameter paths for `debate.train.mesh`): the attention
heads and the MLP's hidden width split over the mesh's `model` axis; everything else replicated.
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx


@dataclasses.dataclass(frozen=True)
class TransformerConfig:
  vocab: int = 512
  width: int = 128          # D
  layers: int = 2
  heads: int = 4            # H
  kv_heads: int = 2         # K (grouped-query attention: H % K == 0)
  head_width: int = 32      # E
  mlp_width: int = 384      # F
  rope_theta: float = 10000.0
  # Per-frequency divisors of the rotary frequencies (E/2 of them; Llama 3.1's long-context
  # scaling, or linear scaling); empty: plain rotary.
  rope_divisors: tuple = ()
  norm_eps: float = 1e-5
  tied: bool = True         # the embedding matrix is the output layer (else `unembed`, D x V)
  dtype: str = "float32"    # activations (bfloat16 on accelerators)

  def params(self) -> int:
    """Parameter count (tied embeddings counted once)."""
    d, h, k, e, f = self.width, self.heads, self.kv_heads, self.head_width, self.mlp_width
    block = d * h * e + 2 * d * k * e + h * e * d + 3 * d * f + 2 * d
    return self.vocab * d * (1 if self.tied else 2) + self.layers * block + d

  def flops_per_token(self, context: int) -> int:
    """Forward multiply-adds x 2 per token at this context length (matmuls and attention)."""
    d, h, k, e, f = self.width, self.heads, self.kv_heads, self.head_width, self.mlp_width
    dense = d * h * e + 2 * d * k * e + h * e * d + 3 * d * f
    attention = 2 * h * e * context
    return 2 * (self.layers * (dense + attention) + d * self.vocab)


# Attention heads and the MLP's hidden width over `model`; the batch is over `data` (the trainer).
SHARDING_RULES = (
    (r"attn/(q|k|v)/kernel$", (None, "model")),
    (r"attn/o/kernel$", ("model", None)),
    (r"mlp/(gate|up)/kernel$", (None, "model")),
    (r"mlp/down/kernel$", ("model", None)),
)


class RMSNorm(nnx.Module):
  def __init__(self, width: int, eps: float):
    self.scale = nnx.Param(jnp.ones((width,), jnp.float32))
    self.eps = eps

  def __call__(self, x_BxTxD: jax.Array) -> jax.Array:
    x = x_BxTxD.astype(jnp.float32)
    x = x * jax.lax.rsqrt(jnp.mean(x * x, -1, keepdims=True) + self.eps)
    return (x * self.scale[...]).astype(x_BxTxD.dtype)


def rotary(x_BxTxNxE: jax.Array, positions_BxT: jax.Array, theta: float,
           divisors: tuple = ()) -> jax.Array:
  """Rotary position embedding, halves layout (the first E/2 features pair with the last); each
  frequency divided by its entry of `divisors` when given."""
  e = x_BxTxNxE.shape[-1]
  freq = theta ** (-jnp.arange(0, e, 2, dtype=jnp.float32) / e)          # [E/2]
  if divisors:
    freq = freq / jnp.asarray(divisors, jnp.float32)
  angle = positions_BxT[..., None].astype(jnp.float32) * freq             # [B, T, E/2]
  sin, cos = jnp.sin(angle)[:, :, None], jnp.cos(angle)[:, :, None]
  x1, x2 = jnp.split(x_BxTxNxE.astype(jnp.float32), 2, axis=-1)
  out = jnp.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1)
  return out.astype(x_BxTxNxE.dtype)


class Attention(nnx.Module):
  def __init__(self, cfg: TransformerConfig, *, rngs: nnx.Rngs):
    d, h, k, e = cfg.width, cfg.heads, cfg.kv_heads, cfg.head_width
    lin = lambda i, o: nnx.Linear(i, o, use_bias=False, rngs=rngs)
    self.q, self.k, self.v, self.o = lin(d, h * e), lin(d, k * e), lin(d, k * e), lin(h * e, d)
    self.cfg = cfg

  def _qkv(self, x_BxTxD, positions_BxT):
    c = self.cfg
    b, t, _ = x_BxTxD.shape
    q = rotary(self.q(x_BxTxD).reshape(b, t, c.heads, c.head_width), positions_BxT, c.rope_theta,
               c.rope_divisors)
    k = rotary(self.k(x_BxTxD).reshape(b, t, c.kv_heads, c.head_width), positions_BxT,
               c.rope_theta, c.rope_divisors)
    return q, k, self.v(x_BxTxD).reshape(b, t, c.kv_heads, c.head_width)

  def __call__(self, x_BxTxD, positions_BxT, mask_BxTxT) -> jax.Array:
    b, t, _ = x_BxTxD.shape
    q, k, v = self._qkv(x_BxTxD, positions_BxT)
    # Grouped heads: query head h reads key/value head h // (H / K).
    out_BxTxHxE = jax.nn.dot_product_attention(q, k, v, mask=mask_BxTxT[:, None])
    return self.o(out_BxTxHxE.reshape(b, t, -1))

  def cached(self, x_BxTxD, positions_BxT, mask_BxTxS, cache: tuple, start) -> tuple:
    """The same over a key/value cache of S slots: this chunk's keys and values are written at
    slots start..start+T-1, its queries read every slot `mask_BxTxS` allows."""
    b, t, _ = x_BxTxD.shape
    q, k, v = self._qkv(x_BxTxD, positions_BxT)
    ck_BxSxKxE, cv_BxSxKxE = cache
    ck_BxSxKxE = jax.lax.dynamic_update_slice(ck_BxSxKxE, k.astype(ck_BxSxKxE.dtype),
                                              (0, start, 0, 0))
    cv_BxSxKxE = jax.lax.dynamic_update_slice(cv_BxSxKxE, v.astype(cv_BxSxKxE.dtype),
                                              (0, start, 0, 0))
    out_BxTxHxE = jax.nn.dot_product_attention(q, ck_BxSxKxE.astype(q.dtype),
                                               cv_BxSxKxE.astype(q.dtype),
                                               mask=mask_BxTxS[:, None])
    return self.o(out_BxTxHxE.reshape(b, t, -1)), (ck_BxSxKxE, cv_BxSxKxE)


class MLP(nnx.Module):
  """SwiGLU."""

  def __init__(self, cfg: TransformerConfig, *, rngs: nnx.Rngs):
    lin = lambda i, o: nnx.Linear(i, o, use_bias=False, rngs=rngs)
    self.gate, self.up = lin(cfg.width, cfg.mlp_width), lin(cfg.width, cfg.mlp_width)
    self.down = lin(cfg.mlp_width, cfg.width)

  def __call__(self, x_BxTxD):
    return self.down(nnx.silu(self.gate(x_BxTxD)) * self.up(x_BxTxD))


class Block(nnx.Module):
  def __init__(self, cfg: TransformerConfig, *, rngs: nnx.Rngs):
    self.attn_norm = RMSNorm(cfg.width, cfg.norm_eps)
    self.attn = Attention(cfg, rngs=rngs)
    self.mlp_norm = RMSNorm(cfg.width, cfg.norm_eps)
    self.mlp = MLP(cfg, rngs=rngs)

  def __call__(self, x, positions, mask):
    x = x + self.attn(self.attn_norm(x), positions, mask)
    return x + self.mlp(self.mlp_norm(x))

  def cached(self, x, positions, mask, cache, start):
    a, cache = self.attn.cached(self.attn_norm(x), positions, mask, cache, start)
    x = x + a
    return x + self.mlp(self.mlp_norm(x)), cache


def causal_mask(tokens_BxT: jax.Array) -> tuple[jax.Array, jax.Array]:
  """(positions_BxT, mask_BxTxT) of right-padded sequences: causal over real tokens (padding,
  token 0, is never a key; it attends to itself)."""
  real = tokens_BxT != 0
  t = tokens_BxT.shape[1]
  causal = jnp.tril(jnp.ones((t, t), jnp.bool_))
  mask_BxTxT = (causal[None] & real[:, None, :]) | jnp.eye(t, dtype=jnp.bool_)[None]
  return jnp.broadcast_to(jnp.arange(t), tokens_BxT.shape), mask_BxTxT


def last_real(h_BxTxD: jax.Array, tokens_BxT: jax.Array) -> jax.Array:
  """The hidden state at each sequence's last real token: h_BxD."""
  last = jnp.maximum((tokens_BxT != 0).sum(-1) - 1, 0)
  return jnp.take_along_axis(h_BxTxD, last[:, None, None], axis=1)[:, 0]


class Decoder(nnx.Module):
  """tokens_BxT -> next-token logits_BxTxV (the embedding matrix is the output layer too, unless
  `cfg.tied` is false: then `unembed`)."""

  def __init__(self, cfg: TransformerConfig, *, rngs: nnx.Rngs):
    self.cfg = cfg
    self.embed = nnx.Embed(cfg.vocab, cfg.width, rngs=rngs)
    self.blocks = nnx.List([Block(cfg, rngs=rngs) for _ in range(cfg.layers)])
    self.norm = RMSNorm(cfg.width, cfg.norm_eps)
    if not cfg.tied:
      self.unembed = nnx.Param(nnx.initializers.lecun_normal()(rngs.params(),
                                                               (cfg.width, cfg.vocab)))

  def output_rows(self, ids) -> jax.Array:
    """The output layer's rows (one per token id in `ids`): [len(ids), D]."""
    ids = jnp.asarray(ids)
    return self.embed.embedding[ids] if self.cfg.tied else self.unembed[...][:, ids].T

  def logits(self, h_BxTxD: jax.Array) -> jax.Array:
    if self.cfg.tied:
      return self.embed.attend(h_BxTxD).astype(jnp.float32)
    return (h_BxTxD @ self.unembed[...].astype(h_BxTxD.dtype)).astype(jnp.float32)

  def hidden(self, tokens_BxT: jax.Array, final_norm: bool = True) -> jax.Array:
    """The last block's output (normed unless `final_norm` is false): h_BxTxD."""
    positions, mask_BxTxT = causal_mask(tokens_BxT)
    x = self.embed(tokens_BxT).astype(jnp.dtype(self.cfg.dtype))
    for block in self.blocks:
      x = block(x, positions, mask_BxTxT)
    return self.norm(x) if final_norm else x

  def __call__(self, tokens_BxT: jax.Array) -> jax.Array:
    return self.logits(self.hidden(tokens_BxT))

  def init_cache(self, batch: int, slots: int, dtype=None) -> list:
    """An empty key/value cache: per layer (keys, values), each B x S x K x E."""
    c = self.cfg
    shape = (batch, slots, c.kv_heads, c.head_width)
    dtype = jnp.dtype(dtype or c.dtype)
    return [(jnp.zeros(shape, dtype), jnp.zeros(shape, dtype)) for _ in range(c.layers)]

  def cached(self, tokens_BxT, positions_BxT, valid_BxS, cache: list, start) -> tuple:
    """Logits of a chunk of T tokens written at cache slots start..start+T-1 (a prompt, then one
    token a step): logits_BxTxV and the new cache. `positions_BxT` are the tokens' rotary
    positions; `valid_BxS` marks the slots that hold real tokens (prompts are left-padded) once
    this chunk is written. A slot is read by the queries at or after it."""
    t, s = tokens_BxT.shape[1], valid_BxS.shape[1]
    slot_T = start + jnp.arange(t)
    mask_BxTxS = (jnp.arange(s)[None, None, :] <= slot_T[None, :, None]) & valid_BxS[:, None, :]
    mask_BxTxS = mask_BxTxS | (jnp.arange(s)[None, None, :] == slot_T[None, :, None])
    x = self.embed(tokens_BxT).astype(jnp.dtype(self.cfg.dtype))
    new = []
    for block, layer_cache in zip(self.blocks, cache):
      x, layer_cache = block.cached(x, positions_BxT, mask_BxTxS, layer_cache, start)
      new.append(layer_cache)
    return self.logits(self.norm(x)), new


class ChoiceHead(Decoder):
  """A decoder read as a chooser: the next-token logits of `choices` (token ids, e.g. the
  option markers [A] and [B]) after the last real token: logits_BxC. A judge is this with the
  two option markers; a pretrained model reads its option letters the same way."""

  def __init__(self, cfg: TransformerConfig, choices: tuple[int, ...], *, rngs: nnx.Rngs):
    super().__init__(cfg, rngs=rngs)
    self.choices = tuple(int(c) for c in choices)

  def __call__(self, tokens_BxT: jax.Array) -> jax.Array:
    h_BxD = last_real(self.hidden(tokens_BxT), tokens_BxT)
    w_CxD = self.output_rows(self.choices)
    return (h_BxD.astype(jnp.float32) @ w_CxD.T.astype(jnp.float32))


class ChoiceTop(nnx.Module):
  """The top `cfg.layers` blocks of a decoder, its final norm and the output rows of `choices`,
  read as `ChoiceHead` reads them, from the hidden states below them (h_BxTxD, the output of a
  `Decoder.hidden(..., final_norm=False)` of the layers underneath): logits_BxC. A pretrained
  judge fine-tuned in its top layers trains only this."""

  def __init__(self, cfg: TransformerConfig, choices: int, *, rngs: nnx.Rngs):
    self.blocks = nnx.List([Block(cfg, rngs=rngs) for _ in range(cfg.layers)])
    self.norm = RMSNorm(cfg.width, cfg.norm_eps)
    self.rows = nnx.Param(nnx.initializers.normal(0.02)(rngs.params(), (choices, cfg.width)))
    self.cfg = cfg

  def __call__(self, h_BxTxD: jax.Array, tokens_BxT: jax.Array,
               rows_BxCxD: jax.Array | None = None) -> jax.Array:
    """`rows_BxCxD`: each sequence's own output rows (e.g. its options' first tokens) in place
    of the shared `rows`."""
    positions, mask_BxTxT = causal_mask(tokens_BxT)
    x = h_BxTxD.astype(jnp.dtype(self.cfg.dtype))
    for block in self.blocks:
      x = block(x, positions, mask_BxTxT)
    h_BxD = last_real(self.norm(x), tokens_BxT).astype(jnp.float32)
    if rows_BxCxD is not None:
      return jnp.einsum("bd,bcd->bc", h_BxD, rows_BxCxD.astype(jnp.float32))
    return h_BxD @ self.rows[...].T.astype(jnp.float32)


class MoveScorer(Decoder):
  """A decoder read as a debater's policy and value: each move's logit from the hidden state at
  its mark (`marks_BxA`, positions in the sequence; the game's `debater_view` says where), the
  last `choice_moves` moves (picking option A or B) scored against the embeddings of `choices`
  as `ChoiceHead` does, and the value (the mover's expected outcome, in [-1, 1]) from the last
  real token."""

  def __init__(self, cfg: TransformerConfig, choices: tuple[int, ...], *, rngs: nnx.Rngs):
    super().__init__(cfg, rngs=rngs)
    self.choices = tuple(int(c) for c in choices)
    self.move = nnx.Linear(cfg.width, 1, rngs=rngs)
    self.value = nnx.Linear(cfg.width, 1, kernel_init=nnx.initializers.zeros, rngs=rngs)

  def __call__(self, tokens_BxT: jax.Array, marks_BxA: jax.Array) -> tuple[jax.Array, jax.Array]:
    h_BxTxD = self.hidden(tokens_BxT).astype(jnp.float32)
    at_BxAxD = jnp.take_along_axis(h_BxTxD, marks_BxA[..., None], axis=1)
    logits_BxA = self.move(at_BxAxD)[..., 0]
    c = len(self.choices)
    w_CxD = self.output_rows(self.choices).astype(jnp.float32)
    logits_BxA = logits_BxA.at[:, -c:].set((at_BxAxD[:, -c:] * w_CxD[None]).sum(-1))
    return logits_BxA, jnp.tanh(self.value(last_real(h_BxTxD, tokens_BxT))[:, 0])
