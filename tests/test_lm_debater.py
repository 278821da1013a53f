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
                     tg.TextFormat("debate", 2))
  scores = np.random.default_rng(0).normal(size=(16, 24)).astype(np.float32)
  lm = task.with_quote_scores(scores)
  assert lm.game.prior_kind == "lm" and task.game.prior_kind == "retrieval"
  assert lm.with_protocol(tg.TextFormat("consultancy", 1)).game.prior_kind == "lm"
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
  with pytest.raises(ValueError, match="allowed: \\(16, 24\\)"):
    task.with_quote_scores(scores[:, :5])


def test_the_quote_scorer_is_each_units_likelihood_arguing_one_answer_minus_the_other(tiny):
  from debate.data import reading
  from debate.data import tokenizer as tok_lib
  from debate.games import text as tg
  from experiments.common import text_lm
  from debate.tasks.reading import ReadingTask, Sizes
  from models import llama_tokenizer
  rows = reading.generate(2, seed=1, cfg=reading.ReadingConfig(sentences=11, distractors=1))
  tok = tok_lib.Tokenizer.train([r["passage"] for r in rows] + [r["question"] for r in rows], 300)
  task = ReadingTask(rows, tok, Sizes(sentences=11, sentence_tokens=24, question_tokens=32,
                                      forgeries=1), tg.TextFormat("debate", 1))
  lt = llama_tokenizer.for_checkpoint(tiny)
  scorer = text_lm.QuoteScorer(tiny, lt, batch_size=3)
  got = scorer.scores(task)
  assert got.shape == (2, 12)
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


def test_quotes_in_an_argument_are_verified_against_the_passage_and_a_forgery_is_caught():
  from debate import quotes
  passage = "The old captain sold his boat in May.  Nobody in the harbour knew why he left."
  text = ("He says \u201cthe old  Captain sold his boat\u201d, and \"nobody in the harbour knew\" "
          "proves it; but \"he sold it in June\" and \"old cap\" are not in the story.")
  found = quotes.find_quotes(text, passage)
  assert [q.verified for q in found] == [True, True, False, False]  # "old cap": not whole words
  shown = quotes.mark_quotes(text, found)
  assert shown.count("(VERIFIED)") == 2 and shown.count("(UNVERIFIED)") == 2
  assert "\"he sold it in June\" (UNVERIFIED)" in shown
  assert quotes.from_json(quotes.as_json(found)) == found


def test_the_judge_reads_each_argument_with_its_quotes_marked():
  from judges.pretrained import judge_messages
  row = {"question": "Why did he leave?", "options": ["money", "love"], "moves": [
      {"argues_option": 0, "quote": "He sold his boat.", "verified": True, "speaker": "liar",
       "argument": "He says \"he was poor\" so it was money.",
       "argument_quotes": [{"text": "he was poor", "start": 9, "end": 20, "verified": False}]}]}
  user = judge_messages(row)[1]["content"]
  assert "quotes (VERIFIED): \"He sold his boat.\"" in user
  assert "argues: He says \"he was poor\" (UNVERIFIED) so it was money." in user
  assert "liar" not in user  # who is honest is never shown


@pytest.mark.slow  # (the default suite stays under 5 minutes)
def test_arguments_are_the_models_greedy_text_and_later_turns_read_earlier_ones(tmp_path):
  from experiments.common import text_arguments
  from models import llama_tokenizer, llama_weights
  from tests.test_llama import write_gguf
  write_gguf(str(tmp_path / "m.gguf"), quantize=False)  # larger weights: it writes more than "\n"
  tiny = llama_weights.load(str(tmp_path / "m.gguf"))
  lt = llama_tokenizer.for_checkpoint(tiny)
  passage = "the cat sat on the mat. the dog ran to the park."
  rows = [{"question": "where did the dog go?", "options": ["park", "mat"], "moves": [
      {"speaker": "honest", "argues_option": 0, "quote": "the dog ran to the park.",
       "verified": True},
      {"speaker": "liar", "argues_option": 1, "quote": "the cat sat on the mat.",
       "verified": True}]}, {"question": "who sat?", "options": ["dog", "cat"], "moves": [
      {"speaker": "liar", "picks_option": 0},
      {"speaker": "liar", "argues_option": 0, "quote": "a dog sat.", "verified": False}]}]
  arguer = text_arguments.Arguer(tiny, lt, max_new_tokens=6, batch_size=2, bucket=32)
  out = arguer.argue(rows, [passage, passage])
  assert "argument" not in rows[0]["moves"][0]  # the input is left as it was
  assert "argument" not in out[1]["moves"][0]  # a side pick has no argument
  # Each argument is what greedy decoding of its own prompt alone writes (batching and padding
  # change nothing), and the second turn's prompt holds the first turn's argument.
  f = trainer.functionalize(lambda r: Decoder(tiny.config, rngs=r))
  params = jax.tree.map(jnp.asarray, tiny.params)
  for i, t in ((0, 0), (0, 1), (1, 1)):
    messages = text_arguments.argue_messages(passage, out[i], t)
    if (i, t) == (0, 1):
      assert out[0]["moves"][0]["argument"]  # (this model's first argument is not empty)
      assert f"argued: {out[0]['moves'][0]['argument']}" in messages[1]["content"]
    ids = lt.encode_chat(messages)
    gen = generate.make_generate(f, len(ids), 6, eos_id=lt.eos_id)
    alone, _ = gen(params, jnp.asarray([ids], jnp.int32), jax.random.PRNGKey(0))
    assert out[i]["moves"][t]["argument"] == arguer.text(np.asarray(alone)[0])
  assert all(isinstance(m.get("argument_quotes", []), list) for r in out for m in r["moves"])
