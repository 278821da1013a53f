"""The judging page: people judge stored debates in a browser.

  python -m experiments.serve --workdir runs/judging add-judge alice          # prints a token
  python -m experiments.serve --workdir runs/judging add-judge admin --admin
  python -m experiments.serve --workdir runs/judging                          # the shipped NYU rooms
  python -m experiments.serve --workdir runs/judging --sources nyu runs/text_debate
  python -m experiments.serve --workdir runs/judging export                   # verdicts.jsonl

Serves http://127.0.0.1:8000 (`--host`, `--port`). The verdicts live in
`WORKDIR/judging.sqlite`; `export` writes `WORKDIR/verdicts.jsonl`, rows that
`judges.base.RecordedJudge.from_jsonl` reads as the judge "human" (`configs/rejudge.py`).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from debate import io
from experiments.common import human_app, human_db, human_sources


def main(argv=None) -> int:
  ap = argparse.ArgumentParser(prog="python -m experiments.serve", description=__doc__.split(
      "\n")[0])
  ap.add_argument("--workdir", required=True)
  ap.add_argument("--host", default="127.0.0.1")
  ap.add_argument("--port", type=int, default=8000)
  ap.add_argument("--sources", nargs="*", default=["nyu"],
                  help="run workdirs, transcript files or NYU-format directories ('nyu': the "
                       "shipped rooms)")
  ap.add_argument("command", nargs="?", default="serve", choices=["serve", "add-judge", "export"])
  ap.add_argument("name", nargs="?")
  ap.add_argument("--admin", action="store_true")
  a = ap.parse_args(argv)
  logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                      datefmt="%H:%M:%S")
  if not 1 <= a.port <= 65535:
    print(f"error: --port={a.port}; allowed: 1..65535", file=sys.stderr)
    return 2
  if a.command == "add-judge" and not (a.name and a.name.strip() and len(a.name) <= 64):
    print(f"error: judge name={a.name!r}; allowed: 1-64 characters", file=sys.stderr)
    return 2
  os.makedirs(a.workdir, exist_ok=True)
  store = human_db.Store(os.path.join(a.workdir, "judging.sqlite"))
  if a.command == "add-judge":
    try:
      print(store.add_judge(a.name.strip(), admin=a.admin))
    except Exception as e:  # sqlite3.IntegrityError: the name is taken
      print(f"error: judge name={a.name!r} is taken ({type(e).__name__}); allowed: a new name",
            file=sys.stderr)
      return 2
    return 0
  debates, problems = human_sources.load(a.sources)
  if a.command == "export":
    rows = human_app.export_rows(store, {d.id: d for d in debates})
    io.atomic_write_jsonl(os.path.join(a.workdir, "verdicts.jsonl"), rows)
    print(f"{len(rows)} verdicts -> {os.path.join(a.workdir, 'verdicts.jsonl')}")
    return 0
  if not debates:
    print("error: no debate to serve (" + "; ".join(problems) + ")", file=sys.stderr)
    return 2
  logging.info("serving %d debates over %d stories on http://%s:%d", len(debates),
               len({d.story for d in debates}), a.host, a.port)
  import uvicorn
  uvicorn.run(human_app.create_app(a.workdir, debates, problems), host=a.host, port=a.port,
              log_level="warning")
  return 0


if __name__ == "__main__":
  sys.exit(main())
