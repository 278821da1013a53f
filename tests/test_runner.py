"""The runner: a smoke run writes everything; bad input stops with one clear message."""
import json
import os

import pytest

from experiments import run

CFG = "configs/mnist_judge.py"


def test_smoke_run_writes_its_workdir(digits_dir, tmp_path):
  wd = str(tmp_path / "judge")
  assert run.main(["--config", f"{CFG}:pixels=4,smoke,arch=tiny", "--workdir", wd,
                   f"--config.data.dir={digits_dir}", "--config.seed=3"]) == 0
  results = json.load(open(os.path.join(wd, "results.json")))
  for key in ("config", "metrics", "mesh", "num_devices", "steps", "resumed_from_step",
              "wall_seconds", "versions"):
    assert key in results
  assert results["mesh"] == {"data": 8, "model": 1} and results["num_devices"] == 8
  assert results["metrics"]["pixels"] == 4 and 0 <= results["metrics"]["test_accuracy"] <= 1
  assert results["config"]["seed"] == 3
  for f in ("config.json", "report.md", "metrics_judge_k4.jsonl", "train_loss.png",
            "judge/judge.json"):
    assert os.path.exists(os.path.join(wd, f)), f
  assert os.listdir(os.path.join(wd, "tensorboard", "metrics_judge_k4"))
  # Same command again resumes from the final checkpoint and does no new training.
  assert run.main(["--config", f"{CFG}:pixels=4,smoke,arch=tiny", "--workdir", wd,
                   f"--config.data.dir={digits_dir}", "--config.seed=3"]) == 0
  assert json.load(open(os.path.join(wd, "results.json")))["resumed_from_step"] == 20


@pytest.mark.parametrize("args, message", [
    (["--config.nope=1"], "unknown config key 'nope'"),
    (["--config.judge.widht=3"], "unknown config key 'judge.widht'"),
    (["--config.steps=ten"], "--config.steps='ten' has the wrong type: expected int"),
    (["--config.pixels=0"], "config.pixels=0 is not allowed; allowed: an integer in [1, 784]"),
    (["--config.judge.arch=huge"], "judge.arch='huge'; allowed: ['paper', 'small', 'tiny']"),
    (["--config.data.dir=/no/such/dir"], "config.data.dir='/no/such/dir' is not allowed"),
    (["--config.mesh.data=3"], "mesh={'data': 3, 'model': 1} needs 3 devices but 8"),
])
def test_bad_input_is_one_clear_error(args, message, digits_dir, tmp_path, capsys):
  wd = str(tmp_path / "w")
  argv = ["--config", f"{CFG}:smoke,arch=tiny", "--workdir", wd,
          f"--config.data.dir={digits_dir}"] + args
  assert run.main(argv) == 2
  err = capsys.readouterr().err
  assert message in err, err
  assert not os.path.exists(wd)  # Nothing was written.


def test_bad_config_arg_is_one_clear_error(tmp_path, capsys):
  assert run.main(["--config", f"{CFG}:pixles=4", "--workdir", str(tmp_path)]) == 2
  assert "unknown config argument 'pixles'" in capsys.readouterr().err


def test_workdir_of_another_config_is_refused_and_kept(digits_dir, tmp_path, capsys):
  wd = str(tmp_path / "w")
  base = ["--config", f"{CFG}:smoke,arch=tiny", "--workdir", wd, f"--config.data.dir={digits_dir}"]
  assert run.main(base) == 0
  before = open(os.path.join(wd, "results.json")).read()
  assert run.main(base + ["--config.learning_rate=0.5"]) == 2
  assert "holds a run of a different config (learning_rate: 0.0001 -> 0.5)" in capsys.readouterr().err
  assert open(os.path.join(wd, "results.json")).read() == before
  assert json.load(open(os.path.join(wd, "config.json")))["learning_rate"] == 0.0001
