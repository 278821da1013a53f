r"""The sparse MNIST judge of "AI safety via debate" (Irving et al. 2018), section 3.1.

  python -m experiments.run --config configs/mnist_judge.py:pixels=6 \
      --workdir runs/judge_k6

Args: pixels (k, default 6), arch (paper|small|tiny), smoke (a seconds-long CI variant).
The paper trains 30k batches at k=6 and 50k at k=4 (batch 128, Adam 1e-4).
"""
import ml_collections

from configs import common
from debate.config import parse_arg


def get_config(arg=None):
  arg = parse_arg(arg, pixels=6, arch="paper", smoke=False)
  c = ml_collections.ConfigDict()
  c.experiment = "mnist_judge"
  c.seed = 0
  c.pixels = arg.pixels
  c.steps = 30_000 if arg.pixels >= 6 else 50_000
  c.batch_size = 128
  c.learning_rate = 1e-4
  # The last training images the judge never sees: self-play evaluates its debaters on them.
  c.holdout = 200
  c.judge = ml_collections.ConfigDict({"arch": arg.arch})
  c.data = common.data_config()
  c.mesh = common.mesh_config()
  c.sharding = common.sharding_config()
  c.eval = ml_collections.ConfigDict({"masks_per_image": 10})
  c.log_every = 200
  c.checkpoint_every = 1000
  c.keep_checkpoints = 3
  c.distributed = False
  if arg.smoke:
    c.judge.arch = "small" if arg.arch == "paper" else arg.arch
    c.steps = 20
    c.batch_size = 32
    c.log_every = 5
    c.checkpoint_every = 10
    c.eval.masks_per_image = 1
  return c
