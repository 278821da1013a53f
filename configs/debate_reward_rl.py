r"""RL with debate as the reward: a label-free policy vs truth, judge-alone and distilled rewards.

  python -m experiments.run --config configs/debate_reward_rl.py \
      --workdir runs/rl \
      --config.judge_workdir='runs/judge_k{k}'

Args: pixels, sims, train_images, eval_images (held out for the distilled model), steps (RL
steps), seeds, smoke. The distilled reward model is trained inside this run (as in
configs/distill_reward.py).
"""
import ml_collections

from configs import distill_reward
from debate.config import parse_arg


def get_config(arg=None):
  arg = parse_arg(arg, pixels=6, sims=16, train_images=2000, eval_images=500, steps=600,
                  seeds=2, smoke=False)
  c = distill_reward.get_config(
      f"pixels={arg.pixels},sims={arg.sims},train_images={arg.train_images},"
      f"eval_images={arg.eval_images},smoke={arg.smoke}")
  c.unlock()
  c.experiment = "debate_reward_rl"
  c.sources = ("truth", "debate", "judge", "distilled")
  c.rl = ml_collections.ConfigDict({"steps": arg.steps, "batch_size": 64, "learning_rate": 1e-3,
                                    "entropy": 0.01, "seeds": arg.seeds, "eval_every": 50,
                                    # RL images: disjoint from the distilled model's.
                                    "images": arg.train_images, "image_offset": arg.train_images})
  if arg.smoke:
    c.rl.steps = min(arg.steps, 20)
    c.rl.batch_size = 16
    c.rl.seeds = min(arg.seeds, 1)  # seeds=0 stays 0, and is refused.
    c.rl.eval_every = 10
    c.rl.images = c.train_images
  return c
