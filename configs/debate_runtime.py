r"""Debate as a runtime check of an untrusted model's answers, and best-of-n by debate.

  python -m experiments.run --config configs/debate_runtime.py \
      --workdir runs/runtime \
      --config.judge_workdir='runs/judge_k{k}'

Args: pixels, sims, eval_images (test images checked), lie_digit (the class the saboteur lies
on), best_of (n), smoke.
"""
import ml_collections

from configs import distill_reward
from debate.config import parse_arg


def get_config(arg=None):
  arg = parse_arg(arg, pixels=6, sims=16, eval_images=500, lie_digit=8, best_of=3, smoke=False)
  c = ml_collections.ConfigDict()
  c.experiment = "debate_runtime"
  c.seed = 0
  c.steps = 0
  distill_reward.debate_keys(c, arg)
  c.eval_images = arg.eval_images
  c.lie_digit = arg.lie_digit
  c.best_of = arg.best_of
  c.weak = ml_collections.ConfigDict({"train_images": 100, "steps": 150})
  c.strong = ml_collections.ConfigDict({"steps": 600})
  if arg.smoke:
    distill_reward.smoke(c)
    c.eval_images = min(arg.eval_images, 16)
    c.weak.steps = 10
    c.strong.steps = 10
  return c
