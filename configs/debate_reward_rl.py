r"""RL with debate as the reward: a label-free policy vs truth, judge-alone and distilled rewards.

  python -m experiments.run --config configs/debate_reward_rl.py \
      --workdir runs/rl \
      --config.judge_workdir='runs/judge_k{k}'

Args: pixels, sims, train_images, eval_images (held out for the distilled model), rl_images (the
policy's unlabeled images, after the distilled model's), steps (RL steps), seeds, smoke. The
defaults are the recipe of docs/RESULTS.md section 3c (truth reward past 95%). The distilled
reward model is trained inside this run (as in
configs/distill_reward.py).
"""
import ml_collections

from configs import distill_reward
from debate.config import parse_arg


def get_config(arg=None):
  arg = parse_arg(arg, pixels=6, sims=16, train_images=2000, eval_images=500,
                  rl_images=4000, steps=3000, seeds=4, smoke=False)
  c = distill_reward.get_config(
      f"pixels={arg.pixels},sims={arg.sims},train_images={arg.train_images},"
      f"eval_images={arg.eval_images},smoke={arg.smoke}")
  c.unlock()
  c.experiment = "debate_reward_rl"
  c.sources = ("truth", "debate", "judge", "distilled")
  # REINFORCE, 4 sampled labels per image, batch-mean baseline; entropy 0.05 (at 0.01 a seed
  # can lose a digit for good: debate/rl.py).
  c.rl = ml_collections.ConfigDict({"steps": arg.steps, "batch_size": 64, "samples": 4,
                                    "learning_rate": 1e-3, "entropy": 0.05, "seeds": arg.seeds,
                                    "eval_every": 250,
                                    # The true label's reward: beats every lie (paper) or the
                                    # judge's favourite lie (best_lie); the same games.
                                    "truth_rule": "paper",
                                    # RL images: disjoint from the distilled model's.
                                    "images": arg.rl_images, "image_offset": arg.train_images})
  if arg.smoke:
    c.rl.steps = min(arg.steps, 20)
    c.rl.batch_size = 16
    c.rl.seeds = min(arg.seeds, 1)  # seeds=0 stays 0, and is refused.
    c.rl.eval_every = 10
    c.rl.images = c.train_images
  return c
