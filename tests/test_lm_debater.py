"""A language model choosing what to quote: candidate spans scored by their log-likelihood after a
prompt, through the key/value cache, checked against the plain forward pass."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from debate.train import trainer
from models import generate, score
from models.transformer import Decoder

gguf = pytest.importorskip("gguf")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
  from models import llama_weights
  from tests.test_llama import write_gguf
  path = str(tmp_path_factory.mktemp("gguf") / "tiny.gguf")
  write_gguf(path, quantize=False, std=0.05)
  return llama_weights.load(path)


def test_cached_candidate_scores_equal_the_plain_forward_pass(tiny):
  cfg = tiny.config
  f = trainer.functionalize(lambda r: Decoder(cfg, rngs=r))
  params = jax.tree.map(jnp.asarray, tiny.params)
  rng = np.random.default_rng(0)
  prompts = [list(rng.integers(3, cfg.vocab, n)) for n in (7, 12)]
  conts = [[list(rng.integers(3, cfg.vocab, n)) for n in ns] for ns in ((1, 4, 5), (3, 5, 2))]
  x = np.zeros((2, 3, 5), np.int32)
  for b, row in enumerate(conts):
    for u, c in enumerate(row):
      x[b, u, :len(c)] = c
  s = score.make_continuation_scorer(f, prompt_len=16, cont_len=5, candidates=3)
  logp, counts = s(params, jnp.asarray(generate.left_pad(prompts, 16)), jnp.asarray(x))
  # The plain forward pass over each whole sequence, unpadded at the left (right padding is
  # masked: causal attention never reads it).
  seqs = [prompts[b] + conts[b][u] for b in range(2) for u in range(3)]
  x_plain = np.zeros((len(seqs), max(map(len, seqs))), np.int32)
  for i, q in enumerate(seqs):
    x_plain[i, :len(q)] = q
  lp = np.asarray(jax.nn.log_softmax(jax.jit(lambda p, x: f.module(p)(x))(
      params, jnp.asarray(x_plain)), -1))
  for b in range(2):
    for u in range(3):
      row = lp[3 * b + u]
      want = sum(float(row[len(prompts[b]) - 1 + j, t]) for j, t in enumerate(conts[b][u]))
      assert float(logp[b, u]) == pytest.approx(want, abs=1e-4)
      assert int(counts[b, u]) == len(conts[b][u])


def test_with_quote_scores_each_side_quotes_what_the_model_prefers_for_its_answer():
  """Under the model's prior, the seat arguing option 0 quotes the unit it scores highest, the
  seat arguing option 1 the lowest (the model prefers it for option 1); no unit twice."""
  from debate import cotrain, rollout
  from debate.data import reading
  from debate.data import tokenizer as tok_lib
  from debate.debaters import make_debater
  from debate.games import text as tg
  from debate.protocols import Protocol
  from debate.tasks.reading import ReadingTask, Sizes
  rows = reading.generate(16, seed=0, cfg=reading.ReadingConfig(sentences=20, distractors=2))
  tok = tok_lib.Tokenizer.train([r["passage"] for r in rows] + [r["question"] for r in rows], 500)
  task = ReadingTask(rows, tok, Sizes(sentences=20, sentence_tokens=24, question_tokens=32),
                     tg.TextProtocol("debate", 2))
  scores = np.random.default_rng(0).normal(size=(16, 22)).astype(np.float32)
  lm = task.with_quote_scores(scores)
  assert lm.game.prior_kind == "lm" and task.game.prior_kind == "retrieval"
  assert lm.with_protocol(tg.TextProtocol("consultancy", 1)).game.prior_kind == "lm"
  P = Protocol(precommit=True)
  d = make_debater("heuristic", lm.game, P, None)
  key = cotrain.balanced_keys(lm, np.arange(16), None)
  player = rollout.make_player(None, game=lm.game, protocol=P, debaters=(d, d),
                               judge_apply=lambda p, t: jnp.zeros((t.shape[0], 2)))
  ex = lm.examples(key)
  out = jax.device_get(player(jax.random.PRNGKey(0), None, (None, None), ex))
  for i in range(16):
    units = np.r_[np.arange(ex.num_sents[i]), 20 + np.arange(ex.num_fakes[i])]
    for seat in (0, 1):
      mine = out.actions_BxT[i][out.seats_BxT[i] == seat]
      sign = 1.0 if key.claims_2[i, seat] == 0 else -1.0
      np.testing.assert_array_equal(mine, units[np.argsort(-sign * scores[i, units])[:2]])
  with pytest.raises(ValueError, match="allowed: \\(16, 22\\)"):
    task.with_quote_scores(scores[:, :5])


def test_the_quote_scorer_is_each_units_likelihood_arguing_one_answer_minus_the_other(tiny):
  from debate.data import reading
  from debate.data import tokenizer as tok_lib
  from debate.games import text as tg
  from debate.tasks import reading_lm
  from debate.tasks.reading import ReadingTask, Sizes
  from models import llama_tokenizer
  rows = reading.generate(2, seed=1, cfg=reading.ReadingConfig(sentences=10, distractors=1))
  tok = tok_lib.Tokenizer.train([r["passage"] for r in rows] + [r["question"] for r in rows], 300)
  task = ReadingTask(rows, tok, Sizes(sentences=10, sentence_tokens=24, question_tokens=32,
                                      forgeries=1), tg.TextProtocol("debate", 1))
  lt = llama_tokenizer.for_checkpoint(tiny)
  scorer = reading_lm.QuoteScorer(tiny, lt, batch_size=3)
  got = scorer.scores(task)
  assert got.shape == (2, 11)
  f = trainer.functionalize(lambda r: Decoder(tiny.config, rngs=r))
  i = 1
  units = task.text(i)["sentences"] + task.text(i)["forgeries"]
  pairs = [(scorer.prompt(rows[i]["passage"], rows[i]["question"], rows[i]["options"][o]),
            lt.encode(units[u].strip() + "\"")) for u in (0, 3, 10) for o in (0, 1)]
  x = np.zeros((len(pairs), max(len(p) + len(c) for p, c in pairs)), np.int32)
  for k, (p, c) in enumerate(pairs):
    x[k, :len(p) + len(c)] = p + c
  lp = np.asarray(jax.nn.log_softmax(jax.jit(lambda q, x: f.module(q)(x))(
      jax.tree.map(jnp.asarray, tiny.params), jnp.asarray(x)), -1))
  loglik = [sum(float(lp[k, len(p) - 1 + j, t]) for j, t in enumerate(c))
            for k, (p, c) in enumerate(pairs)]
  for n, u in enumerate((0, 3, 10)):
    assert float(got[i, u]) == pytest.approx(loglik[2 * n] - loglik[2 * n + 1], abs=2e-3)
