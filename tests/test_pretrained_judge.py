"""The pretrained judge's prompt: what it may see, and nothing else."""
import os
import json

from judges.pretrained import judge_messages

ROW = {"claims": [1, 0], "example": 0, "honest_seat": 0, "options": ["red", "orange"],
       "protocol": "debate", "question": "What colour is Lea's hat?", "true_option": 1,
       "winner": "honest",
       "moves": [{"argues_option": 1, "judge_probs": [0.07, 0.93], "quote": "Lea dyed her hat orange.",
                  "seat": 0, "sentence": 2, "speaker": "honest", "turn": 1, "verified": True},
                 {"argues_option": 0, "judge_probs": [0.08, 0.92], "quote": "Lea's hat is red!",
                  "seat": 1, "sentence": None, "speaker": "liar", "turn": 2, "verified": False}]}


def test_the_judge_sees_quotes_and_marks_but_not_who_is_honest_nor_the_passage():
  text = json.dumps(judge_messages(ROW))
  assert "Debater for B quotes (VERIFIED): \\\"Lea dyed her hat orange.\\\"" in text
  assert "Debater for A quotes (UNVERIFIED): \\\"Lea's hat is red!\\\"" in text
  for secret in ("honest", "liar", "winner", "0.93", "0.07", "Story:"):
    assert secret not in text, secret
  full = json.dumps(judge_messages(ROW, passage="Lea's hat was red. Later, Lea dyed it orange."))
  assert "Story:" in full and "Lea dyed it orange" in full


def test_swapping_the_options_swaps_the_letters_everywhere():
  plain, swapped = (judge_messages(ROW, swap=s)[1]["content"] for s in (False, True))
  assert "A: red\nB: orange" in plain and "A: orange\nB: red" in swapped
  assert "Debater for A quotes (VERIFIED)" in swapped  # the orange quote now argues for A
  assert "Debater for B quotes (UNVERIFIED)" in swapped


# The judge on a small synthetic GGUF model (always available) ------------------------------------

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import ml_collections  # noqa: E402
import pytest  # noqa: E402

from judges import pretrained_finetune as ft  # noqa: E402
from judges.pretrained import PretrainedJudge  # noqa: E402

ROWS = [dict(ROW, question=f"What colour is hat {i}?", true_option=i % 2,
             options=[["red", "orange"], ["blue", "green"], ["pink", "grey"]][i % 3])
        for i in range(6)]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
  from models import llama_tokenizer, llama_weights
  from tests.test_llama import write_gguf
  path = str(tmp_path_factory.mktemp("gguf") / "tiny.gguf")
  write_gguf(path, quantize=False, std=0.05)
  ck = llama_weights.load(path)
  return path, ck, llama_tokenizer.for_checkpoint(ck)


@pytest.mark.parametrize("top_layers", [0, 2])
def test_the_split_judge_zero_shot_is_the_whole_model(tiny, top_layers):
  from debate.train.trainer import functionalize
  from models.transformer import ChoiceHead
  _, ck, tok = tiny
  judge = PretrainedJudge(ck, tok, top_layers=top_layers, batch_size=4, both_orders=False)
  prompts = judge.prompts(ROWS, [None] * len(ROWS))
  got = judge.letter_logits(judge.features(prompts))
  whole = functionalize(lambda r: ChoiceHead(ck.config, judge.letter_ids, rngs=r))
  x = np.zeros((len(prompts), max(map(len, prompts))), np.int32)
  for i, p in enumerate(prompts):
    x[i, :len(p)] = p
  want = whole.module(jax.tree.map(jnp.asarray, ck.params))(jnp.asarray(x))
  np.testing.assert_allclose(got, np.asarray(want), atol=1e-4)


@pytest.mark.slow  # (the default suite stays under 5 minutes)
def test_finetuning_fits_a_label_carried_by_one_token_anywhere_in_the_prompt(tiny):
  """Features batched by length, labels kept with their prompts, gradients through the top: the
  label is the parity of the fifth from last token of a random prompt."""
  _, ck, tok = tiny
  judge = PretrainedJudge(ck, tok, top_layers=1, batch_size=4)
  rng = np.random.default_rng(0)
  for pos in (-5,):
    prompts = [list(rng.integers(3, 200, rng.integers(30, 40))) for _ in range(16)]
    labels = np.array([p[pos] % 2 for p in prompts])
    feats = judge.features(prompts)
    zero = judge.zero_shot
    top, info = ft.finetune(judge, feats, labels, feats, labels,
                            ft.Settings(steps=60, batch_size=8, learning_rate=1e-2, warmup=5,
                                        eval_every=20))
    assert judge.top is zero  # fine-tuning returns a new top; the judge's own is untouched
    assert info["history"][0]["val_accuracy"] < 0.8
    assert info["best_val_loss"] < 0.05 and info["history"][-1]["val_accuracy"] == 1.0
    tuned = judge.letter_logits(feats, top).argmax(-1)
    np.testing.assert_array_equal(tuned, labels)


def test_the_finetuning_label_is_the_letter_that_shows_the_true_option(tiny, monkeypatch):
  """Training prompts list the options in a random order; each one's label follows its
  option."""
  from experiments.common import text_pretrained
  _, ck, tok = tiny
  judge = PretrainedJudge(ck, tok, top_layers=1, batch_size=4)
  seen = {}

  def capture(judge, train_f, train_y, val_f, val_y, settings, writer=None):
    seen.update(feats=[train_f, val_f], labels=[train_y, val_y])
    return judge.zero_shot, {"history": [], "best_step": 0, "best_val_loss": 0.0, "seconds": 0}

  monkeypatch.setattr(text_pretrained.ft, "finetune", capture)
  config = ml_collections.ConfigDict({"seed": 0, "pretrained": {
      "val_fraction": 0.25, "steps": 1, "finetune_batch": 4, "learning_rate": 1e-3, "warmup": 0,
      "eval_every": 1}})
  transcripts = [dict(r, protocol="debate", example=i) for i, r in enumerate(ROWS * 3)]
  monkeypatch.setattr(text_pretrained, "save_top", lambda workdir, top: None)
  text_pretrained.finetune(config, "unused", judge, transcripts, [], None)
  swapped = 0
  for feats, labels in zip(seen["feats"], seen["labels"]):
    for idx, x, _, _ in feats.batches:
      for j, i in enumerate(idx):
        text = tok.decode([t for t in x[j] if t])
        question = text.split("Question: ")[1].split("\n")[0]
        row = next(r for r in ROWS if r["question"] == question)
        letter = "AB"[labels[i]]
        assert f"{letter}: {row['options'][row['true_option']]}\n" in text
        swapped += f"A: {row['options'][1]}\n" in text
  assert 0 < swapped < len(transcripts)


def test_a_nan_loss_stops_finetuning_naming_the_step(tiny):
  _, ck, tok = tiny
  judge = PretrainedJudge(ck, tok, top_layers=1, batch_size=4)
  judge.zero_shot = jax.tree.map(lambda x: x * np.nan, judge.zero_shot)
  feats = judge.features(judge.prompts(ROWS, [None] * len(ROWS)))
  labels = np.array([r["true_option"] for r in ROWS])
  with pytest.raises(FloatingPointError, match="at step 1"):
    ft.finetune(judge, feats, labels, feats, labels, ft.Settings(steps=3, batch_size=4))


def test_the_judge_reads_the_passage_only_under_full_information(tiny):
  from experiments.common import text_pretrained
  _, ck, tok = tiny
  judge = PretrainedJudge(ck, tok, top_layers=1)
  questions = [{"question": ROW["question"], "passage": "Lea's hat was red. Lea dyed it orange."}]
  transcripts = [dict(ROW, protocol=p, example=0) for p in ("full_info", "debate", "blind")]
  texts = [tok.decode(x) for x in judge.prompts(
      transcripts, text_pretrained.passages(transcripts, questions))]
  assert "Lea dyed it orange." in texts[0]
  assert all("dyed it orange" not in t and "Story" not in t for t in texts[1:])


def test_a_top_with_more_layers_than_the_model_is_refused_in_one_line(tiny):
  from debate.config import ConfigError
  _, ck, tok = tiny
  with pytest.raises(ConfigError, match=r"top_layers=3; allowed: 0..2"):
    PretrainedJudge(ck, tok, top_layers=3)


def test_the_cloze_readout_reads_each_options_first_token_after_the_answer_prefix(tiny):
  """No letters: the options are named by their text and read from the model's own next-token
  logits of their first tokens, in the order listed."""
  from debate.train.trainer import functionalize
  from models.transformer import Decoder
  _, ck, tok = tiny
  judge = PretrainedJudge(ck, tok, top_layers=1, batch_size=4, readout="cloze")
  prompts = judge.prompts(ROWS[:3], [None] * 3, swap=[False, True, False])
  text = tok.decode(prompts[1])
  first, second = ROWS[1]["options"][1], ROWS[1]["options"][0]  # swapped
  assert f"Answers: {first} or {second}" in text and text.endswith("The answer is ")
  assert f"Debater for {first} quotes (VERIFIED)" in text and "\nA: " not in text
  choices = judge.choices(ROWS[:3], swap=[False, True, False])
  assert tok.decode([choices[1, 0]]) == "g" and tok.decode([choices[1, 1]]) == "b"  # past " "
  got = judge.letter_logits(judge.features(prompts, choices))
  whole = functionalize(lambda r: Decoder(ck.config, rngs=r)).module(
      jax.tree.map(jnp.asarray, ck.params))
  for i, p in enumerate(prompts):
    logits = np.asarray(whole(jnp.asarray([p]))[0, -1])
    np.testing.assert_allclose(got[i], logits[choices[i]], atol=1e-4)


def test_a_prompt_longer_than_the_models_context_is_one_line(tiny):
  """The file's context length (4,096 for the synthetic model) bounds a prompt: a 5,000-word
  passage under full information is refused before anything runs, naming the length and the
  limit."""
  from debate.config import ConfigError
  _, ck, tok = tiny
  assert ck.context == 4096
  judge = PretrainedJudge(ck, tok, top_layers=1, batch_size=4)
  with pytest.raises(ConfigError, match="at most 4,096, the context length"):
    judge.probs(ROWS[:1], ["word " * 5000])
  assert judge.probs(ROWS[:1]).shape == (1, 2)  # the transcript alone fits


def test_cloze_options_sharing_their_first_tokens_are_read_where_they_part(tiny):
  """"He was afraid" / "He was angry": the prompt ends with the shared " He was", and each option
  is read from its first own token, so the verdict is not a forced 0.5 tie; an option that is the
  other's prefix is read as the end of turn."""
  _, ck, tok = tiny
  judge = PretrainedJudge(ck, tok, top_layers=1, batch_size=4, readout="cloze")
  row = {**ROWS[0], "options": ["He was afraid", "He was angry"]}
  prompt = judge.prompts([row], [None])[0]
  shared = os.path.commonprefix([" He was afraid", " He was angry"])  # (a character tokenizer)
  assert tok.decode(prompt).endswith("The answer is" + shared) and shared == " He was a"
  (a, b), = judge.choices([row])
  assert tok.decode([a]) == "f" and tok.decode([b]) == "n"
  p = judge.probs([row])
  assert abs(p[0, 0] - 0.5) > 1e-4
  (_, end), = judge.choices([{**ROWS[0], "options": ["red car", "red"]}])
  assert end == tok.eos_id
