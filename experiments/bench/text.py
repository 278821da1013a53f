"""Benchmark part `text`: the text-debate judge (the decoder) training and scoring, in tokens per
second and as a share of the machine's matmul peak, at the view lengths of each protocol; and
text-debate games per second with best-of-N debaters."""
from __future__ import annotations

from experiments.bench.common import timeit

# configs/text_debate.py's judge sizes and the view lengths of its default protocols (tokens):
# blind, consultancy (2 quotes), debate (4 quotes), full information (the passage).
LENGTHS = {"blind": 21, "consultancy": 45, "debate": 69, "full_info": 182}


def bench_text(sizes=("tiny", "small"), batch: int = 64, score_batch: int = 1024) -> dict:
  import jax
  import jax.numpy as jnp
  import numpy as np
  import optax
  from configs.text_debate import JUDGES
  from debate import judging
  from debate.train import trainer
  from models.transformer import ChoiceHead, TransformerConfig
  out = {}
  for size in sizes:
    w, l, h, k, e, f = JUDGES[size]
    cfg = TransformerConfig(vocab=1024, width=w, layers=l, heads=h, kv_heads=k, head_width=e,
                            mlp_width=f)
    init = lambda r, cfg=cfg: ChoiceHead(cfg, (5, 6), rngs=r)
    functional = trainer.functionalize(init)
    params = trainer.init_params(init, jax.random.PRNGKey(0))
    opt = optax.adamw(1e-3)

    @jax.jit
    def step(p, s, tokens, target):
      (loss, _), g = jax.value_and_grad(
          lambda p: judging.judge_loss(functional.module(p), {"view": (tokens,),
                                                              "target": target}, None, None),
          has_aux=True)(p)
      u, s = opt.update(g, s, p)
      return optax.apply_updates(p, u), s, loss

    score = jax.jit(lambda p, tokens: functional.module(p)(tokens))
    rows = {}
    for name, t in LENGTHS.items():
      rng = np.random.default_rng(0)
      tokens = jnp.asarray(rng.integers(10, 1024, (batch, t)), jnp.int32)
      target = jnp.zeros(batch, jnp.int32)
      state = [params, opt.init(params)]

      def train_once():
        state[0], state[1], loss = step(state[0], state[1], tokens, target)
        return loss
      sec = timeit(train_once, min_seconds=1.0)
      big = jnp.asarray(rng.integers(10, 1024, (score_batch, t)), jnp.int32)
      sec_score = timeit(lambda: score(params, big), min_seconds=1.0)
      # The choice head reads 2 of the vocabulary's columns: no full output layer.
      per_token = cfg.flops_per_token(t) - 2 * cfg.width * cfg.vocab
      rows[name] = {"tokens": t, "train_tokens_per_s": batch * t / sec,
                    "train_gflops": 3 * batch * t * per_token / sec / 1e9,
                    "score_tokens_per_s": score_batch * t / sec_score,
                    "score_gflops": score_batch * t * per_token / sec_score / 1e9}
    out[size] = {"params": cfg.params(), "batch": batch, "score_batch": score_batch,
                 "lengths": rows}
  return out


def bench_text_debater(batch: int = 64, score_batch: int = 256, head: int = 71,
                       units: int = 26, unit_tokens: int = 10) -> dict:
  """The learned text debater (`models.transformer.MoveScorer`, configs/text_debate.py's
  `learned` sizes) at the default debate's debater view (`TextDebate.debater_view`: a 71-token
  head, 26 quotable units of 10 tokens each closed by a marker, a final marker: 358 tokens): one policy-gradient train step (batch 64) and scoring moves (batch 256),
  in tokens per second and as GFLOP/s."""
  import jax
  import jax.numpy as jnp
  import numpy as np
  import optax
  from configs.text_debate import get_config
  from debate.train import trainer
  from models.transformer import MoveScorer, TransformerConfig
  d = get_config().learned
  cfg = TransformerConfig(vocab=1024, width=d.width, layers=d.layers, heads=d.heads,
                          kv_heads=d.kv_heads, head_width=d.head_width, mlp_width=d.mlp_width)
  init = lambda r: MoveScorer(cfg, (5, 6), rngs=r)
  functional = trainer.functionalize(init)
  params = trainer.init_params(init, jax.random.PRNGKey(0))
  opt = optax.adam(1e-3)
  rng = np.random.default_rng(0)
  view_tokens = head + units * (unit_tokens + 1) + 1
  marks = jnp.asarray(np.concatenate([head + (unit_tokens + 1) * np.arange(units) + unit_tokens,
                                      [view_tokens - 1] * 2]), jnp.int32)

  def loss_fn(p, tokens, action, adv):
    logits, value = functional.module(p)(tokens, jnp.broadcast_to(marks, (tokens.shape[0],
                                                                          marks.shape[0])))
    logp = jax.nn.log_softmax(logits, -1)
    return -(adv * jnp.take_along_axis(logp, action[:, None], 1)[:, 0]).mean() + \
        jnp.mean((value - adv) ** 2)

  @jax.jit
  def step(p, s, tokens, action, adv):
    g = jax.grad(loss_fn)(p, tokens, action, adv)
    u, s = opt.update(g, s, p)
    return optax.apply_updates(p, u), s

  tokens = jnp.asarray(rng.integers(10, 1024, (batch, view_tokens)), jnp.int32)
  action = jnp.asarray(rng.integers(0, units, batch), jnp.int32)
  adv = jnp.asarray(rng.choice([-1.0, 1.0], batch), jnp.float32)
  state = [params, opt.init(params)]

  def train_once():
    state[0], state[1] = step(state[0], state[1], tokens, action, adv)
    return state[0]
  sec = timeit(train_once, min_seconds=1.0)
  big = jnp.asarray(rng.integers(10, 1024, (score_batch, view_tokens)), jnp.int32)
  score = jax.jit(lambda p, t: functional.module(p)(t, jnp.broadcast_to(
      marks, (t.shape[0], marks.shape[0]))))
  sec_score = timeit(lambda: score(params, big), min_seconds=1.0)
  per_token = cfg.flops_per_token(view_tokens) - 2 * cfg.width * cfg.vocab  # No output layer.
  return {"params": cfg.params(), "tokens": view_tokens, "batch": batch,
          "train_tokens_per_s": batch * view_tokens / sec,
          "train_gflops": 3 * batch * view_tokens * per_token / sec / 1e9,
          "score_tokens_per_s": score_batch * view_tokens / sec_score,
          "score_gflops": score_batch * view_tokens * per_token / sec_score / 1e9}


def bench_text_evidence(train_questions: int = 4000, steps: int = 600, test_questions: int = 600,
                        workdir: str = "runs/bench_text_evidence",
                        evidence_rate: float = 1.0) -> dict:
  """Counter-experiment for the co-trained judge: the same judge (configs/text_debate.py's
  default) trained on one-round debates whose honest side quotes the decisive sentence (the last
  event on the asked thing, from the generator's `evidence`) in a share `evidence_rate` of the
  training debates and a random sentence otherwise, while the liar quotes a random one; tested
  on debates that always hold the evidence. If it learns these, what limits co-training is the
  transcripts' evidence, not the judge; the rate says how much evidence it needs."""
  import time
  import jax
  import jax.numpy as jnp
  import numpy as np
  from configs.text_debate import get_config
  from debate import cotrain, judging, protocols, rollout
  from debate.data import reading, tokenizer as tok_lib
  from debate.debaters.base import Debater, one_hot_output
  from debate.games import text as tg
  from debate.tasks.reading import ReadingTask, Sizes
  from debate.train.runtime import Runtime
  from debate.train import trainer
  from experiments.common import text_setup as td
  cfg = get_config()
  rows = reading.generate(train_questions + test_questions, cfg.data.seed)
  train, test = rows[:train_questions], rows[train_questions:]
  tok = tok_lib.Tokenizer.train(
      [r["passage"] for r in train] + [r["question"] for r in train] +
      [o for r in train for o in r["options"]] + [f for r in train for f in r["forgeries"]] +
      list(reading.LEXICON) * 20, cfg.sizes.vocab)
  sizes = Sizes(**{k: v for k, v in cfg.sizes.items() if k != "vocab"})
  judge = td.judge(cfg, tok)
  init, apply, tcfg = judge.init, judge.apply, judge.cfg
  params0 = trainer.init_params(init, jax.random.PRNGKey(0))

  def decisive(r) -> int:  # the last event on the asked thing (decoys come after statements)
    return max(i for i in r["evidence"] if r["options"][r["label"]] in r["sentences"][i])

  def views(rs, seed, rate):
    task = ReadingTask(rs, tok, sizes, tg.TextFormat("debate", 1))
    rng = np.random.default_rng(seed)
    key = cotrain.balanced_keys(task, np.arange(len(task)), rng)
    ex = task.examples(key)
    dec = jnp.asarray([decisive(rs[i]) for i in key.example_id], jnp.int32)
    with_evidence = jnp.asarray(rng.random(len(rs)) < rate)

    def act(params, rng, obs, legal, batch_axes=()):
      rand = jnp.argmax(jnp.where(legal, jax.random.gumbel(rng, legal.shape), -jnp.inf), -1)
      honest = (obs.seat == obs.example.truth_seat) & with_evidence
      return one_hot_output(jnp.where(honest, dec, rand), legal.shape[-1])

    d = Debater("evidence", act)
    p = protocols.Protocol(precommit=True)
    player = rollout.make_player(None, game=task.game, protocol=p, debaters=(d, d),
                                 judge_apply=apply)
    out = jax.device_get(player(jax.random.PRNGKey(seed), params0, (None, None), ex))._asdict()
    return judging.views_of(task.game, ex, out, every_move=False)

  train_views, test_views = views(train, 1, evidence_rate), views(test, 2, 1.0)
  t0 = time.time()
  res = judging.train_judge(init, [train_views], runtime=Runtime.local(), steps=steps,
                            batch_size=64,
                            learning_rate=cfg.judge.learning_rate, seed=0, workdir=workdir,
                            name="judge_evidence", log_every=100)
  logits = np.asarray(jax.jit(apply)(res.params, *test_views["view"]))
  correct = logits.argmax(-1) == test_views["target"]
  return {"train_questions": train_questions, "steps": steps, "judge_params": tcfg.params(),
          "evidence_rate": evidence_rate,
          "test_questions": test_questions, "test_accuracy": float(correct.mean()),
          "train_seconds": time.time() - t0}


def bench_text_reading(kinds: tuple = ("oracle", "full_info"), train_questions: int = 6000,
                       steps: int = 1500, test_questions: int = 400, size: str = "tiny",
                       workdir: str = "runs/bench_text_reading") -> dict:
  """Can the from-scratch judge read? It is trained on labelled views with no sides (`oracle`:
  the decisive sentences; `full_info`: the whole passage after the question) of the default
  task's training questions, and scored on new questions of the training split (people, things
  and wordings it has seen) and of the held-out test split, per question type."""
  import time
  import jax
  import jax.numpy as jnp
  import numpy as np
  from configs.text_debate import JUDGES, get_config
  from debate import judging
  from debate.data import reading, tokenizer as tok_lib
  from debate.games import text as tg
  from debate.tasks import base
  from debate.tasks.reading import ReadingTask, Sizes
  from debate.train.runtime import Runtime
  from judges.text_judge import TextJudge
  from models.transformer import TransformerConfig
  cfg = get_config()
  rcfg = reading.ReadingConfig()
  train = reading.generate(train_questions, cfg.data.seed, rcfg, "train")
  seen = reading.generate(test_questions, cfg.data.seed + 1, rcfg, "train")
  held_out = reading.generate(test_questions, cfg.data.seed, rcfg, "test")
  tok = tok_lib.Tokenizer.train(
      [r["passage"] for r in train] + [r["question"] for r in train] +
      [f for r in train for f in r["forgeries"]] + list(reading.LEXICON) * 20, cfg.sizes.vocab)
  sizes = Sizes(**{k: v for k, v in cfg.sizes.items() if k != "vocab"})

  def data(rows, kind):
    task = ReadingTask(rows, tok, sizes, tg.TextFormat(kind, cfg.rounds))
    ids = np.arange(len(rows))
    y = task.truth(ids)
    ex = jax.tree.map(jnp.asarray, task.examples(base.keys(ids, y, 1 - y, 0)))
    view = jax.vmap(task.game.judge_view)(ex, jax.vmap(task.game.init)(ex))[0]
    return {"view": (np.asarray(view),), "target": np.asarray(y, np.int32)}

  w, layers, heads, kv, hw, mlp = JUDGES[size]
  judge = TextJudge.create(TransformerConfig(vocab=tok.vocab_size, width=w, layers=layers,
                                             heads=heads, kv_heads=kv, head_width=hw,
                                             mlp_width=mlp), tok.special)
  t0 = time.time()
  res = judging.train_judge(judge.init, [data(train, k) for k in kinds], runtime=Runtime.local(),
                            steps=steps, batch_size=cfg.judge.batch_size,
                            learning_rate=cfg.judge.learning_rate, seed=0, workdir=workdir,
                            name="judge_reading", log_every=250)
  apply = jax.jit(judge.apply)
  out = {"kinds": list(kinds), "steps": steps, "train_questions": train_questions,
         "judge": size, "judge_params": judge.cfg.params(), "train_seconds": time.time() - t0}
  for kind in kinds:
    for name, rows in (("seen_split", seen), ("held_out_split", held_out)):
      d = data(rows, kind)
      right = np.asarray(apply(res.params, *d["view"])).argmax(-1) == d["target"]
      out[f"{kind}/{name}"] = {"accuracy": float(right.mean()), **{
          t: float(right[[r["qtype"] == t for r in rows]].mean()) for t in reading.QTYPES}}
  return out
