"""Benchmark part `pretrained`: a pretrained checkpoint (SmolLM2-135M-Instruct by default) as the
judge and as a writer: scoring tokens per second (the letters' logits after a prompt, the
judge's cost) over batch sizes and prompt lengths, float32 and bfloat16; generation tokens per
second with the key/value cache; each as a share of the machine's matmul peak measured in the same
run; memory (parameters, cache, the process's peak); and what the issue's target (1,000
transcripts of about 300 tokens scored) costs at the measured rate."""
from __future__ import annotations

import resource

from experiments.bench.common import timeit


def bench_pretrained(model: str = "smollm2", peak_flops: float | None = None,
                     lengths=(128, 320), batches=(1, 8, 16, 32), gen_batches=(1, 8),
                     prompt_len: int = 256, gen_steps: int = 32) -> dict:
  import dataclasses

  import jax
  import jax.numpy as jnp
  import numpy as np
  from debate.train import trainer
  from models import generate, llama_weights
  from models.transformer import ChoiceHead, Decoder
  ck = llama_weights.load(model)
  cfg = ck.config
  params = jax.tree.map(jnp.asarray, ck.params)
  rng = np.random.default_rng(0)
  # The choice head reads 2 rows of the output layer: no full vocabulary at scoring time.
  score_flops = lambda t: cfg.flops_per_token(t) - 2 * cfg.width * cfg.vocab
  out = {"model": ck.source.split("/")[-1], "params": cfg.params(),
         "param_bytes_float32": 4 * cfg.params(), "config": dataclasses.asdict(cfg),
         "scoring": [], "generation": []}
  for dtype in ("float32", "bfloat16"):
    c = dataclasses.replace(cfg, dtype=dtype)
    f = trainer.functionalize(lambda r, c=c: ChoiceHead(c, (32, 33), rngs=r))
    p = params if dtype == "float32" else jax.tree.map(lambda x: x.astype(jnp.bfloat16), params)
    score = jax.jit(lambda q, x, f=f: f.module(q)(x))
    for t in lengths:
      for b in (batches if dtype == "float32" else (16,)):
        x = jnp.asarray(rng.integers(10, cfg.vocab, (b, t)), jnp.int32)
        sec = timeit(lambda: score(p, x), min_seconds=3.0)
        row = {"dtype": dtype, "batch": b, "tokens": t, "tokens_per_s": b * t / sec,
               "gflops": b * t * score_flops(t) / sec / 1e9}
        if peak_flops:
          row["share_of_peak"] = row["gflops"] * 1e9 / peak_flops
        out["scoring"].append(row)
  f = trainer.functionalize(lambda r: Decoder(cfg, rngs=r))
  for b in gen_batches:
    prompt = jnp.asarray(rng.integers(10, cfg.vocab, (b, prompt_len)), jnp.int32)
    key = jax.random.PRNGKey(0)
    one = generate.make_generate(f, prompt_len, 1)
    many = generate.make_generate(f, prompt_len, gen_steps + 1)
    prefill = timeit(lambda: one(params, prompt, key)[0], min_seconds=2.0)
    total = timeit(lambda: many(params, prompt, key)[0], min_seconds=2.0)
    per_step = (total - prefill) / gen_steps
    context = prompt_len + gen_steps // 2
    row = {"batch": b, "prompt_tokens": prompt_len, "new_tokens": gen_steps,
           "prefill_tokens_per_s": b * prompt_len / prefill,
           "decode_tokens_per_s": b / per_step,
           "decode_gflops": b * cfg.flops_per_token(context) / per_step / 1e9,
           "cache_bytes": 2 * cfg.layers * b * (prompt_len + gen_steps + 1) * cfg.kv_heads *
           cfg.head_width * 4}
    if peak_flops:
      row["decode_share_of_peak"] = row["decode_gflops"] * 1e9 / peak_flops
    out["generation"].append(row)
  best = max((r for r in out["scoring"] if r["tokens"] == max(lengths) and
              r["dtype"] == "float32"), key=lambda r: r["tokens_per_s"])
  out["target_1000x300_seconds"] = 1000 * 300 / best["tokens_per_s"]
  out["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
  return out
