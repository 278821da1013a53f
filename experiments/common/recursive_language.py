"""The language bridge: a pretrained model judging a running sum written as text, one step
after bisection against the whole trace (`debate.games.recursive.addition`,
`judges.lm_steps`)."""
from __future__ import annotations

import logging
import time

import numpy as np

from debate.games.recursive import addition
from experiments.common.recursive import rate as _rate


def _judge(config):
  from judges.lm_steps import StepLikelihoodJudge
  from models import llama_tokenizer, llama_weights
  ck = llama_weights.load(config.language.model)
  return StepLikelihoodJudge(ck, llama_tokenizer.for_checkpoint(ck),
                             batch_size=config.language.batch_size)


def language_bridge(config, log=logging.info) -> dict:
  c = config.language
  judge = _judge(config)
  rng = np.random.default_rng(config.seed + 41)
  tr = addition.traces(rng, c.games, c.steps)
  n = c.games
  honest_first = rng.random(n) < 0.5
  order = lambda a, b, hf: (a, b) if hf else (b, a)
  picked = lambda p, hf: (p[:, 0] > p[:, 1]) == hf  # the judge backs the honest option

  # Bisection (both sides commit to midpoints; exact honest, the liar follows its trace):
  # the judge reads the one disputed line with both results.
  lo = np.array([addition.bisect(tr.honest_NxT1[i], tr.liar_NxT1[i]) for i in range(n)])
  views = [addition.step_view(tr.honest_NxT1[i, lo[i]], tr.addends_NxT[i, lo[i]],
                              order(tr.honest_NxT1[i, lo[i] + 1], tr.liar_NxT1[i, lo[i] + 1],
                                    honest_first[i])) for i in range(n)]
  t0 = time.time()
  after = picked(judge.log_likelihoods(views), honest_first)
  t_after = time.time() - t0
  # The judge's single-step accuracy: a random line of a true trace against a slip of one.
  t = rng.integers(0, c.steps, n)
  slip = rng.choice(addition.SLIPS, n)
  rows = np.arange(n)
  views = [addition.step_view(tr.honest_NxT1[i, t[i]], tr.addends_NxT[i, t[i]],
                              order(tr.honest_NxT1[i, t[i] + 1],
                                    tr.honest_NxT1[i, t[i] + 1] + slip[i], honest_first[i]))
           for i in rows]
  single = picked(judge.log_likelihoods(views), honest_first)
  # Without debate: both whole traces, the more likely one backed.
  m = min(n, c.whole_games)
  t0 = time.time()
  views = [addition.trace_view(tr, i, honest_first[i]) for i in range(m)]
  whole = picked(judge.log_likelihoods(views), honest_first[:m])
  t_whole = time.time() - t0
  out = {"T": c.steps, "model": judge.name, "single_step": _rate(single),
         "after_bisection": _rate(after), "whole_trace": _rate(whole),
         "found_the_slip": float((lo == tr.slip_step_N).mean()),
         "seconds_per_game": {"after_bisection": t_after / n, "whole_trace": t_whole / m},
         "tokens_scored": judge.tokens_scored, "seconds": judge.seconds}
  log("language bridge at T=%d: single step %.1f%%, after bisection %.1f%%, whole trace %.1f%%",
      c.steps, 100 * single.mean(), 100 * after.mean(), 100 * whole.mean())
  return out
