"""The README cannot drift from the code: every `python -m experiments.run` command in it (and in
the docs it links) names a config, arguments and keys that exist, its Python snippets run as
written from another directory, and every docs file is linked from it."""
from __future__ import annotations

import os
import pathlib
import re
import shlex
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _commands(text: str) -> list[list[str]]:
  """Every `python -m experiments.run ...` command, continuation lines joined, as argv."""
  text = text.replace("\\\n", " ")
  out = []
  for line in text.splitlines():
    i = line.find("python -m experiments.run")
    if i < 0:
      continue
    cmd = line[i:].split("`")[0].split("&")[0].split(";")[0].strip()
    argv = shlex.split(cmd)[3:]
    if "--config" in argv:
      out.append(argv)
  return out


def _snippets(text: str) -> list[str]:
  return re.findall(r"```python\n(.*?)```", text, re.S)


def _loads(argv: list[str]) -> None:
  from debate.config import load_config
  spec = argv[argv.index("--config") + 1]
  overrides = [a for a in argv if a.startswith("--config.")]
  load_config(spec, overrides)


@pytest.mark.parametrize("doc", ["README.md", "docs/EXPERIMENTS.md", "docs/RESULTS.md",
                                 "docs/PRETRAINED.md", "docs/SCALING.md"])
def test_every_documented_command_names_a_config_and_keys_that_exist(doc):
  commands = _commands((ROOT / doc).read_text())
  assert commands or doc != "README.md"
  bad = []
  for argv in commands:
    spec = argv[argv.index("--config") + 1]
    if "NAME" in spec or any("$" in a or re.search(r"=[A-Z]+(,|$)", a) for a in argv):
      continue  # placeholders (any config, a shell variable, a value to fill in)
    try:
      _loads(argv)
    except Exception as e:  # noqa: BLE001 (report every one)
      bad.append(f"{' '.join(argv)[:120]}: {type(e).__name__}: {str(e)[:160]}")
  assert not bad, "\n".join(bad)


def test_every_docs_file_is_linked_from_the_readme():
  for f in (ROOT / "docs").glob("*.md"):
    assert f"docs/{f.name}" in README, f.name


def test_the_readme_is_a_map_not_a_changelog():
  assert len(README.splitlines()) <= 210
  assert not re.search(r"\bissue \d+", README, re.I)
  for section in ("## Install", "## What we found", "## Concepts", "## Recipes"):
    assert section in README


def _run_snippet(code: str, cwd: pathlib.Path) -> subprocess.CompletedProcess:
  env = {**os.environ, "PYTHONPATH": str(ROOT)}  # what `pip install -e .` gives
  return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True,
                        text=True, timeout=600)


def test_the_new_judge_snippet_runs_from_another_directory(tmp_path):
  code = next(s for s in _snippets(README) if "ArrayJudge" in s)
  check = code + """
import numpy as np
mask = np.zeros((3, 28, 28), bool); mask[:, 10, 10:16] = True
image = np.random.default_rng(0).random((3, 28, 28)).astype(np.float32)
p = judge.probs((mask, image))
assert p.shape == (3, 10) and np.allclose(p.sum(-1), 1), p
from debate.debaters import make_debater
from debate import protocols
from debate.tasks.mnist import MnistTask
from debate.data import mnist
test = mnist.load_mnist("test", mnist.SHIPPED)
task = MnistTask(mnist.to_float(test["image"][:4]), test["label"][:4], k=4)
d = make_debater("greedy", task.game, protocols.Protocol(), judge.apply)  # the engine takes it
print("ok")
"""
  res = _run_snippet(check, tmp_path)
  assert res.returncode == 0 and "ok" in res.stdout, res.stderr[-2000:]


@pytest.mark.slow
def test_the_reward_model_snippet_runs_after_a_smoke_distillation(tmp_path):
  from experiments import run
  assert run.main(["--config", "configs/distill_reward.py:smoke", "--workdir",
                   str(tmp_path / "runs" / "distill")]) == 0
  code = next(s for s in _snippets(README) if "load_reward_model" in s)
  res = _run_snippet(code + "\nassert p_win.shape == (8,) and ((p_win >= 0) & (p_win <= 1)).all()"
                     "\nprint('ok')", tmp_path)
  assert res.returncode == 0 and "ok" in res.stdout, res.stderr[-2000:]


def test_config_help_lists_arguments_and_keys_with_defaults(capsys):
  from experiments import run
  assert run.main(["--config", "configs/text_debate.py", "--help"]) == 0
  out = capsys.readouterr().out
  assert "learned_iterations = 24" in out and "judge.learning_rate = 0.002" in out
  assert "data.source = 'synthetic'    # synthetic | quality | jsonl" in out
  # An argument and a key of the same name: the key is a group, and says so in one line.
  assert run.main(["--config", "configs/text_debate.py:smoke", "--workdir", "unused",
                   "--config.learned=0"]) == 2
  err = capsys.readouterr().err
  assert "config.learned is a group of keys" in err and "'iterations'" in err


@pytest.mark.parametrize("name", sorted(f.stem for f in (ROOT / "configs").glob("*.py")
                                        if f.stem not in ("__init__", "common")))
def test_every_config_has_a_smoke_variant_and_help(name, capsys):
  from debate.config import describe, load_config
  config = load_config(f"configs/{name}.py:smoke")
  assert config.experiment
  text = describe(f"configs/{name}.py")
  assert "smoke = False" in text and "Keys (--config.KEY=VALUE" in text
