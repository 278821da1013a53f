"""What several experiments share: run setup from a config, config checks, report sections.
Library code (games, tasks, judges, debaters) lives below in `debate/` and `judges/`; nothing
here is imported by them."""
