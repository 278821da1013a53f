"""Benchmark part `text`: the text-debate judge (the decoder) training and scoring, in tokens per
second and as a share of the machine's matmul peak, at the view lengths of each protocol; and
text-debate games per second with best-of-N debaters."""
from __future__ import annotations

from experiments.bench.common import timeit

# configs/text_debate.py's judge sizes and the view lengths of its default protocols (tokens):
# blind, consultancy (2 quotes), debate (4 quotes), full information (the passage).
LENGTHS = {"blind": 21, "consultancy": 45, "debate": 69, "full_info": 182}


def bench_text(sizes=("tiny", "small"), batch: int = 64, score_batch: int = 1024) -> dict:
  import jax
  import jax.numpy as jnp
  import numpy as np
  import optax
  from configs.text_debate import JUDGES
  from debate import judging
  from debate.train import trainer
  from models.transformer import ChoiceHead, TransformerConfig
  out = {}
  for size in sizes:
    w, l, h, k, e, f = JUDGES[size]
    cfg = TransformerConfig(vocab=1024, width=w, layers=l, heads=h, kv_heads=k, head_width=e,
                            mlp_width=f)
    init = lambda r, cfg=cfg: ChoiceHead(cfg, (5, 6), rngs=r)
    functional = trainer.functionalize(init)
    params = trainer.init_params(init, jax.random.PRNGKey(0))
    opt = optax.adamw(1e-3)

    @jax.jit
    def step(p, s, tokens, target):
      (loss, _), g = jax.value_and_grad(
          lambda p: judging.judge_loss(functional.module(p), {"view": (tokens,),
                                                              "target": target}, None, None),
          has_aux=True)(p)
      u, s = opt.update(g, s, p)
      return optax.apply_updates(p, u), s, loss

    score = jax.jit(lambda p, tokens: functional.module(p)(tokens))
    rows = {}
    for name, t in LENGTHS.items():
      rng = np.random.default_rng(0)
      tokens = jnp.asarray(rng.integers(10, 1024, (batch, t)), jnp.int32)
      target = jnp.zeros(batch, jnp.int32)
      state = [params, opt.init(params)]

      def train_once():
        state[0], state[1], loss = step(state[0], state[1], tokens, target)
        return loss
      sec = timeit(train_once, min_seconds=1.0)
      big = jnp.asarray(rng.integers(10, 1024, (score_batch, t)), jnp.int32)
      sec_score = timeit(lambda: score(params, big), min_seconds=1.0)
      # The choice head reads 2 of the vocabulary's columns: no full output layer.
      per_token = cfg.flops_per_token(t) - 2 * cfg.width * cfg.vocab
      rows[name] = {"tokens": t, "train_tokens_per_s": batch * t / sec,
                    "train_gflops": 3 * batch * t * per_token / sec / 1e9,
                    "score_tokens_per_s": score_batch * t / sec_score,
                    "score_gflops": score_batch * t * per_token / sec_score / 1e9}
    out[size] = {"params": cfg.params(), "batch": batch, "score_batch": score_batch,
                 "lengths": rows}
  return out
