r"""Distil MNIST debate verdicts into a reward model R(image, label) that costs one forward pass.

  python -m experiments.run --config configs/distill_reward.py \
      --workdir runs/distill \
      --config.judge_workdir='runs/judge_k{k}'

Args: pixels (k), sims (MCTS simulations per move), train_images, eval_images, smoke.
Load the result elsewhere with `debate.rewards.load_reward_model(workdir).score({"image": images}, labels)`.
"""
import ml_collections
from ml_collections import config_dict

from configs import common
from debate.config import parse_arg


def debate_keys(c, arg):
  """Keys shared by the three uses of debate (reward, runtime check, distillation)."""
  c.pixels = arg.pixels
  c.debater = "mcts"
  c.sims = arg.sims
  c.debate_batch_size = 250
  c.judge_workdir = config_dict.placeholder(str)
  # Reuse the verdict tables of another run with the same debate settings (they are costly).
  c.tables_from = config_dict.placeholder(str)
  c.judge = common.judge_config()
  common.add_run_keys(c)


def smoke(c):
  c.sims = min(c.sims, 4)
  c.debate_batch_size = 16
  c.judge.arch = "tiny"
  c.judge.steps = 10
  c.judge.batch_size = 32


def get_config(arg=None):
  arg = parse_arg(arg, pixels=6, sims=16, train_images=2000, eval_images=500, smoke=False)
  c = ml_collections.ConfigDict()
  c.experiment = "distill_reward"
  c.seed = 0
  debate_keys(c, arg)
  c.train_images = arg.train_images
  c.eval_images = arg.eval_images
  c.steps = 3000
  c.batch_size = 128
  c.learning_rate = 1e-3
  c.width = 32
  c.dense = 256
  c.log_every = 100
  c.checkpoint_every = 1000
  if arg.smoke:
    smoke(c)
    c.train_images = min(arg.train_images, 32)
    c.eval_images = min(arg.eval_images, 16)
    c.steps = 30
    c.batch_size = 16
    c.log_every = 10
    c.checkpoint_every = 10
  return c
