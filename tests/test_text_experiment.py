"""The text-debate experiment: a smoke run writes results per protocol, transcripts and plots,
resumes without redoing work, and refuses bad input before writing anything."""
import json
import os

import numpy as np
import pytest

from experiments import run

CFG = "configs/text_debate.py"


def _run(wd, arg, *extra):
  return run.main(["--config", f"{CFG}:{arg}", "--workdir", wd, *extra])


@pytest.mark.parametrize("protocols,learned", [
    ("blind+debate", 0),
    pytest.param("blind+full_info+consultancy+open_consultancy+debate+open_debate", 2,
                 marks=pytest.mark.slow)])
def test_smoke_run_writes_every_protocol_and_resumes(tmp_path, protocols, learned):
  from tests.test_llama import write_gguf
  wd = str(tmp_path / "td")
  model = str(tmp_path / "tiny.gguf")  # a pretrained judge beside the from-scratch one
  write_gguf(model, quantize=False, std=0.05)
  # A pretrained judge and the model's debaters in the full (slow) case only: the default case
  # keeps the suite short (judges/pretrained.py and text_lm.py have their own tests).
  arg = f"smoke,protocols={protocols},sweep=false,learned_iterations={learned}" + (
      f",judge={model},debaters={model}" if learned else "")
  every = "--config.pretrained.test_per_protocol=32"
  assert _run(wd, arg, every) == 0
  res = json.load(open(os.path.join(wd, "results.json")))
  names = protocols.split("+")
  assert sorted(res["metrics"]["protocols"]) == sorted(names)
  for name, m in res["metrics"]["protocols"].items():
    assert m["games"] == 32 and m["ci95"][0] <= m["accuracy"] <= m["ci95"][1]
    assert set(m) >= {"accuracy", "ci95", "ece", "brier", "log_score"}
  assert res["metrics"]["protocols"]["debate"]["verified_share_all"] is not None
  rows = [json.loads(line) for line in open(os.path.join(wd, "transcripts.jsonl"))]
  assert len(rows) == 32 * len(names)
  debate = [r for r in rows if r["protocol"] == "debate"]
  assert all(len(r["moves"]) == 4 and {m["seat"] for m in r["moves"]} == {0, 1} for r in debate)
  assert all(m["quote"] for r in debate for m in r["moves"])
  report = open(os.path.join(wd, "report.md")).read()
  assert "### debate" in report and "judge accuracy" in report
  for f in ("accuracy_by_protocol.png", "tokenizer.json", "games_debate.npz"):
    assert os.path.exists(os.path.join(wd, f)), f
  if learned:  # Learned debaters played every protocol with quotes; their network was saved.
    ld = res["metrics"]["learned_debaters"]
    assert sorted(ld["protocols"]) == sorted(n for n in names if n not in ("blind",
                                                                           "full_info"))
    assert os.path.isdir(os.path.join(wd, "population"))
  if learned:
    _check_pretrained(res, wd, names, report, model)
  # Rerun: the judge's rounds resume from their checkpoints and the games from their data.
  before = {n: m["accuracy"] for n, m in res["metrics"]["protocols"].items()}
  assert _run(wd, arg, every) == 0
  again = json.load(open(os.path.join(wd, "results.json")))["metrics"]
  assert {n: m["accuracy"] for n, m in again["protocols"].items()} == before
  if learned:  # the pretrained judge is fine-tuned again to the same verdicts
    assert again["pretrained_judge"]["protocols"] == res["metrics"]["pretrained_judge"][
        "protocols"]
  # The stored games, re-judged by the run's own saved judge without playing them again: the
  # same verdicts, game by game.
  rj = str(tmp_path / "rj")
  assert run.main(["--config", "configs/rejudge.py", "--workdir", rj,
                   f"--config.games_workdir={wd}", f"--config.judge_workdir={wd}"]) == 0
  rejudged = json.load(open(os.path.join(rj, "results.json")))["metrics"]["protocols"]
  for name in names:
    assert rejudged[name]["agreement"] == 1.0
    assert rejudged[name]["accuracy"] == before[name]
  _damaged_files_are_one_line(tmp_path, wd)
  _people_beside_the_model_judges(tmp_path, wd)
  if learned:
    lm = res["metrics"]["pretrained_judge"]
    # The stored transcripts, re-judged by the pretrained model zero-shot and by the run's
    # fine-tuned top: the run's own numbers again.
    for judge, which in ((model, "zero_shot"), ("pretrained", "finetuned")):
      rj = str(tmp_path / f"rj_{which}")
      assert run.main(["--config", f"configs/rejudge.py:judge={judge}", "--workdir", rj,
                       f"--config.games_workdir={wd}", f"--config.judge_workdir={wd}"]) == 0
      got = json.load(open(os.path.join(rj, "results.json")))["metrics"]["protocols"]
      for name in names:
        assert got[name]["accuracy"] == lm["protocols"][name][which]["accuracy"]
        assert got[name]["original_accuracy"] == before[name]
    # Select-then-argue: the model's debate transcripts with an argument around every quote,
    # judged quotes-only (the run's own numbers on those games) and with the arguments.
    rj = str(tmp_path / "rj_argued")
    assert run.main(["--config", f"configs/rejudge.py:judge=pretrained,arguments={model}",
                     "--workdir", rj, f"--config.games_workdir={wd}",
                     f"--config.judge_workdir={wd}", "--config.transcripts=transcripts.jsonl",
                     "--config.arguments.per_protocol=3", "--config.arguments.tokens=5",
                     "--config.arguments.protocols=('debate',)"]) == 0
    got = json.load(open(os.path.join(rj, "results.json")))["metrics"]["arguments"]
    d = got["protocols"]["debate"]
    assert d["games"] == 3 and d["arguments"]["honest"]["arguments"] + d["arguments"]["liar"][
        "arguments"] == 3 * 4
    argued = [json.loads(x) for x in open(os.path.join(rj, "transcripts_argued.jsonl"))]
    assert all("argument" in m for r in argued for m in r["moves"])
    assert "## Arguments around the quotes" in open(os.path.join(rj, "report.md")).read()


def _check_pretrained(res, wd, names, report, model):
  """The pretrained judge: zero-shot and fine-tuned on every protocol's test transcripts."""
  lm = res["metrics"]["pretrained_judge"]
  assert sorted(lm["protocols"]) == sorted(names) and lm["layers"] == 2
  for m in lm["protocols"].values():
    assert m["zero_shot"]["games"] == m["finetuned"]["games"] == 32
  assert lm["finetune"]["train_transcripts"] + lm["finetune"]["held_out"] == 12 * len(names)
  assert "## Pretrained judge" in report
  verdicts = [json.loads(x) for x in open(os.path.join(wd, "pretrained_judge", "verdicts.jsonl"))]
  assert len(verdicts) == 32 * len(names)
  for name in names:
    mine = [v for v in verdicts if v["protocol"] == name]
    assert np.mean([v["finetuned"] > 0.5 for v in mine]) == lm["protocols"][name]["finetuned"][
        "accuracy"]
  # The model's debaters: each quoting protocol played by each spec, judged by both judges; a
  # quote is marked verified exactly when it is in the passage.
  from debate.quotes import verify_quote
  from experiments.common import text_setup
  lmd = res["metrics"]["lm_debaters"]
  quoting = [n for n in names if n not in ("blind", "full_info")]
  test_rows = text_setup.load_rows(text_setup.run_config(wd, "workdir"))[1]
  passages = {i: r["passage"] for i, r in enumerate(test_rows)}
  for spec in ("heuristic", "prior_best_of-4"):
    assert sorted(lmd["specs"][spec]) == sorted(quoting)
    for m in lmd["specs"][spec].values():
      assert m["from_scratch"]["games"] == m["zero_shot"]["games"] == m["finetuned"]["games"] == 8
    lm_rows = [json.loads(x) for x in open(os.path.join(wd, f"transcripts_lm_{spec}.jsonl"))]
    quotes = [mv for r in lm_rows for mv in r["moves"] if "quote" in mv]
    assert quotes and all(verify_quote(passages[r["example"]], mv["quote"]) == mv["verified"]
                          for r in lm_rows for mv in r["moves"] if "quote" in mv)


def test_rejudge_refuses_a_run_that_is_not_text_debate(tmp_path, capsys):
  os.makedirs(tmp_path / "other")
  json.dump({"experiment": "mnist_debate"}, open(tmp_path / "other" / "config.json", "w"))
  rj = str(tmp_path / "rj")
  assert run.main(["--config", "configs/rejudge.py", "--workdir", rj,
                   f"--config.games_workdir={tmp_path / 'other'}",
                   f"--config.judge_workdir={tmp_path / 'other'}"]) == 2
  err = capsys.readouterr().err
  assert "is a 'mnist_debate' run; allowed: a text_debate run" in err and err.count("\n") == 1
  assert not os.path.exists(rj)


@pytest.mark.parametrize("arg, extra, message", [
    ("judge=small,arguments={model}", [], "config.arguments='{model}' is not allowed; allowed: "
     "none with judge=small"),
    ("judge={model},arguments={model}", ["--config.arguments.protocols=('blind',)"],
     "config.arguments.protocols=('blind',) is not allowed; allowed: protocols of the run that "
     "quote: ['debate']"),
    ("judge={model}", ["--config.transcripts=../x.jsonl"],
     "config.transcripts='../x.jsonl' is not allowed; allowed: a transcript file of "
     "games_workdir (one of ['transcripts.jsonl'])")])
def test_rejudge_refuses_bad_arguments_and_transcripts_in_one_line(tmp_path, capsys, arg, extra,
                                                                    message):
  from tests.test_llama import write_gguf
  model = str(tmp_path / "tiny.gguf")
  write_gguf(model, quantize=False)
  capsys.readouterr()  # (the writer's own log lines)
  arg, message = arg.replace("{model}", model), message.replace("{model}", model)
  os.makedirs(tmp_path / "run")
  json.dump({"experiment": "text_debate", "protocols": ["blind", "debate"]},
            open(tmp_path / "run" / "config.json", "w"))
  open(tmp_path / "run" / "transcripts.jsonl", "w").close()
  rj = str(tmp_path / "rj")
  assert run.main(["--config", f"configs/rejudge.py:{arg}", "--workdir", rj,
                   f"--config.games_workdir={tmp_path / 'run'}", *extra]) == 2
  err = capsys.readouterr().err
  assert message in err and err.count("\n") == 1, err
  assert not os.path.exists(rj)


@pytest.mark.parametrize("arg, extra, message", [
    ("smoke,protocols=debate+nope", [], "protocols=('debate', 'nope') is not allowed"),
    ("smoke,debater=best_of", [], "config.debater='best_of' is not allowed"),
    ("smoke,hops=3", [], "data.hops=3; allowed: 1 or 2"),
    ("smoke,source=quality", [], "config.data.path=None is not allowed"),
    ("smoke", ["--config.judge.kv_heads=3"], "judge.kv_heads=3 is not allowed"),
    ("smoke", ["--config.data.sentences=3"], "data.sentences=3; allowed: at least"),
    ("smoke,rounds=0", [], "config.rounds=0 is not allowed"),
    ("smoke,judge=huge", [], "judge='huge'; allowed: ['micro', 'tiny', 'small', 'base']"),
    ("smoke,tricky=2", [], "data.tricky=2.0; allowed: a share in [0, 1]"),
    ("smoke,tricky=-0.5", [], "data.tricky=-0.5; allowed: a share in [0, 1]"),
    ("smoke,data_seed=-1", [], "config.data.seed=-1 is not allowed"),
    ("smoke", ["--config.seed=-1"], "config.seed=-1 is not allowed"),
    ("smoke,protocols=debate+debate", [], "allowed: each protocol at most once"),
    ("smoke", ["--config.judge.opening=greedy"], "config.judge.opening='greedy' is not allowed"),
    ("smoke,debater=heuristic/best_of", [], "config.debater='heuristic/best_of' is not allowed"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, arg, extra, message):
  wd = str(tmp_path / "w")
  assert _run(wd, arg, *extra) == 2
  err = capsys.readouterr().err
  assert message in err and err.count("\n") == 1, err
  assert not os.path.exists(wd)


def _people_beside_the_model_judges(tmp_path, wd):
  """The judging page's export for 8 stored debates (5 judged right) beside the re-judging
  judge's verdicts on the same 8 games."""
  debates = [json.loads(x) for x in open(os.path.join(wd, "transcripts.jsonl"))]
  debates = [t for t in debates if t["protocol"] == "debate"][:8]
  rows = []
  for k, t in enumerate(debates):
    p = [0.2, 0.2]
    p[t["true_option"] if k < 5 else 1 - t["true_option"]] = 0.8
    rows.append({"protocol": "debate", "example": t["example"], "debate_id": None, "probs": p,
                 "judge": "alice"})
  path = tmp_path / "verdicts.jsonl"
  path.write_text("".join(json.dumps(r) + "\n" for r in rows))
  rj = str(tmp_path / "rj_human")
  assert run.main(["--config", "configs/rejudge.py", "--workdir", rj,
                   f"--config.games_workdir={wd}", f"--config.judge_workdir={wd}",
                   f"--config.human={path}"]) == 0
  h = json.load(open(os.path.join(rj, "results.json")))["metrics"]["human"]["debate"]
  assert h["games"] == 8 and h["accuracy"] == 5 / 8
  model = np.mean([t["winner"] == "honest" for t in debates])
  assert h["new_judge_accuracy"] == h["original_judge_accuracy"] == model
  assert "## People beside the model judges" in open(os.path.join(rj, "report.md")).read()


def _damaged_files_are_one_line(tmp_path, wd):
  """A cut games file, judge or tokenizer in the workdir re-judged: one line naming the file,
  exit 2, no traceback and no new workdir."""
  import shutil
  for name, cut in (("games_debate.npz", 100), (os.path.join("judge", "params.npz"), 50),
                    ("tokenizer.json", 30)):
    copy = str(tmp_path / f"damaged_{os.path.basename(name)}")
    shutil.copytree(wd, copy)
    path = os.path.join(copy, name)
    data = open(path, "rb").read()
    open(path, "wb").write(data[:cut])
    rj = str(tmp_path / f"rj_damaged_{os.path.basename(name)}")
    import contextlib
    import io as _io
    err = _io.StringIO()
    with contextlib.redirect_stderr(err):
      code = run.main(["--config", "configs/rejudge.py", "--workdir", rj,
                       f"--config.games_workdir={copy}", f"--config.judge_workdir={copy}"])
    assert code == 2, (name, err.getvalue()[-500:])
    lines = [x for x in err.getvalue().splitlines() if x.startswith("error:")]
    assert len(lines) == 1 and path in lines[0] and "Traceback" not in err.getvalue(), lines
    assert not os.path.exists(rj)


def test_a_cut_transcript_file_is_one_line_not_a_partial_score(tmp_path):
  from debate import io
  from debate.config import ConfigError
  path = tmp_path / "transcripts.jsonl"
  rows = [{"protocol": "debate", "example": i, "probs": [0.3, 0.7]} for i in range(4)]
  text = "".join(json.dumps(r) + "\n" for r in rows)
  path.write_text(text[:-20])  # killed mid-line
  assert len(io.read_jsonl(str(path))) == 3  # a log the run appends to: the cut line dropped
  with pytest.raises(ConfigError, match="line 4 is damaged"):
    io.read_jsonl(str(path), strict=True)
  from judges.base import RecordedJudge
  with pytest.raises(ConfigError, match="line 4"):
    RecordedJudge.from_jsonl(str(path))
