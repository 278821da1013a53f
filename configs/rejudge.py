r"""Stored text-debate games judged again by another judge, without playing them again (the
moves are replayed into the new judge's view): does a bigger judge, or one trained on other
debaters, agree with the verdicts?

  python -m experiments.run --config configs/rejudge.py --workdir runs/rejudge \
      --config.games_workdir=runs/text_debate --config.judge_workdir=runs/text_debate_small

`games_workdir`: a finished text_debate run (its `games_{protocol}.npz`); `judge_workdir`: a
finished text_debate run on the same questions whose final judge re-judges them (the same run:
its own verdicts again).

A pretrained language model re-judging the stored transcripts (`transcripts.jsonl`), zero-shot:

  python -m experiments.run --config configs/rejudge.py:judge=smollm2 --workdir runs/rejudge_lm \
      --config.games_workdir=runs/text_debate

or with the top layers a text_debate run fine-tuned (`judge=pretrained`, that run as
`judge_workdir`). Any stored transcript file of the run may be judged (`transcripts`, e.g. the
language-model debaters' `transcripts_lm_heuristic.jsonl`).

Select-then-argue's second half: with `arguments=smollm2` (or a model path) a language model first
writes an argument around every quote of the first `arguments.per_protocol` transcripts of each of
`arguments.protocols`, and the judge judges those games twice, quotes only and with the arguments:

  python -m experiments.run --config configs/rejudge.py:judge=pretrained,arguments=smollm2 \
      --workdir runs/rejudge_argued --config.games_workdir=runs/text_lm_debaters \
      --config.judge_workdir=runs/text_smollm2 \
      --config.transcripts=transcripts_lm_heuristic.jsonl

People beside the model judges: `--config.human=W/verdicts.jsonl`, the judging page's export
for these games (`python -m experiments.serve`).

Args: judge (small: judge_workdir's from-scratch judge; pretrained: its fine-tuned pretrained
judge; smollm2 or a .gguf / safetensors path: that model zero-shot); arguments (none, smollm2 or a
model path; pretrained judges only: they read text), smoke (seconds: a model judge or arguer
keeps its first 2 blocks, 4 transcripts per protocol get arguments of at most 8 tokens; still
needs `games_workdir`, e.g. a `configs/text_debate.py:smoke` run).
"""
import ml_collections
from ml_collections import config_dict

from configs import common
from debate.config import parse_arg


def get_config(arg=None):
  arg = parse_arg(arg, judge="small", arguments="none", smoke=False)
  c = ml_collections.ConfigDict()
  c.experiment = "rejudge"
  c.judge = arg.judge
  c.layers = config_dict.placeholder(int)  # a zero-shot model: keep its first that many blocks
  c.batch_size = 16
  c.both_orders = True
  c.readout = "cloze"  # zero-shot: cloze or letters (judges.pretrained.PretrainedJudge.readout)
  c.seed = 0
  c.steps = 0
  common.add_run_keys(c)
  c.transcripts = "transcripts.jsonl"  # the file of games_workdir a pretrained judge reads
  c.arguments = ml_collections.ConfigDict({
      "model": config_dict.placeholder(str), "layers": config_dict.placeholder(int),
      "tokens": 48, "batch_size": 8, "per_protocol": 100,
      "protocols": ("consultancy", "debate")})
  c.arguments.model = None if arg.arguments == "none" else arg.arguments
  c.games_workdir = config_dict.placeholder(str)
  # People's verdicts on these games (`python -m experiments.serve --workdir W --sources
  # GAMES_WORKDIR export` writes W/verdicts.jsonl): reported beside the model judges
  c.human = config_dict.placeholder(str)
  c.judge_workdir = config_dict.placeholder(str)
  if arg.smoke:
    c.batch_size = 4
    if arg.judge not in ("small", "pretrained"):
      c.layers = 2
    c.arguments.update(layers=2, tokens=8, per_protocol=4, batch_size=4)
  return c
