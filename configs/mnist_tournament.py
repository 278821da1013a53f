r"""A tournament of MNIST debaters: every pair plays as honest and as liar on the same images;
a win-rate matrix, Elo (Bradley-Terry, honest-seat and liar-seat ratings, bootstrap intervals),
and the judge's accuracy in self-play against the debaters' Elo (the persuasiveness curve).

  python -m experiments.run --config configs/mnist_tournament.py \
      --workdir runs/tournament_k6 \
      --config.selfplay_workdir=runs/selfplay_k6 --config.judge_workdir='runs/judge_k{k}'

Debaters (`debaters`, '+'-separated): random, greedy, mcts-N (uniform prior, N simulations),
learned (the network alone: one network call per move), learned_mcts-N (the network-guided
search); with `population=true`, every network saved under the self-play run's `population/`
also plays alone (named `learned@iter_N`). The network is the self-play run's latest.

Args: debaters, images (test images), population (true|false), smoke.
"""
import re

import ml_collections
from ml_collections import config_dict

from configs import common
from debate.config import parse_arg


def get_config(arg=None):
  arg = parse_arg(arg, debaters="random+greedy+mcts-16+mcts-200+learned+learned_mcts-32",
                  images=100, population=True, smoke=False)
  c = ml_collections.ConfigDict()
  c.experiment = "mnist_tournament"
  c.seed = 0
  c.steps = 0
  c.debaters = tuple(d for d in arg.debaters.split("+") if d)
  c.population = arg.population
  c.images = arg.images
  c.first = "honest"        # who moves first in every game (the truth sits in seat 0)
  c.precommit = True
  c.liar_protocol = "best_lie"
  c.c_puct = 1.0
  c.evaluator = config_dict.placeholder(str)  # learned_mcts's leaf values; default: self-play's
  c.batch_size = 200
  c.bootstrap = 200
  c.selfplay_workdir = config_dict.placeholder(str)
  c.judge_workdir = config_dict.placeholder(str)
  c.judge_eval_masks = 1
  c.judge = common.judge_config()
  common.add_run_keys(c)
  if arg.smoke:
    # Only well-formed budgets shrink: `mcts-0` or `mcts-abc` stay, and are refused.
    # Distinct names that become one (mcts-16, mcts-200) play once; repeated names stay
    # repeated, and are refused.
    small = tuple(re.sub(r"-[1-9]\d*$", "-4", d) for d in c.debaters)
    c.debaters = tuple(dict.fromkeys(small)) if len(set(c.debaters)) == len(c.debaters) else small
    c.images = min(arg.images, 8)
    c.batch_size = 8
    c.bootstrap = 20
    c.judge.update(arch="tiny", steps=20, batch_size=32)
  return c
