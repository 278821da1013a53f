r"""Stored text-debate games judged again by another judge, without playing them again (the
moves are replayed into the new judge's view): does a bigger judge, or one trained on other
debaters, agree with the verdicts?

  python -m experiments.run --config configs/rejudge.py --workdir runs/rejudge \
      --config.games_workdir=runs/text_debate --config.judge_workdir=runs/text_debate_small

`games_workdir`: a finished text_debate run (its `games_{protocol}.npz`); `judge_workdir`: a
finished text_debate run on the same questions whose final judge re-judges them (the same run:
its own verdicts again).
"""
import ml_collections
from ml_collections import config_dict

from configs import common
from debate.config import parse_arg


def get_config(arg=None):
  parse_arg(arg)
  c = ml_collections.ConfigDict()
  c.experiment = "rejudge"
  c.seed = 0
  c.steps = 0
  common.add_run_keys(c)
  c.games_workdir = config_dict.placeholder(str)
  c.judge_workdir = config_dict.placeholder(str)
  return c
