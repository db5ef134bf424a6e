"""Streaming log parsers, one module per family, each class implementing `failure.LineParser`.

- `python`: the Python parsers in one import — `pytest_output` (pytest in every `--tb` style, xdist,
  reruns, subtests; `pytorch_run_test` adds the ids pytorch's run_test.py wrapper names),
  `pyunittest` (unittest, doctest) and `pytraceback` (plain tracebacks, chained exceptions
  included, and the traceback grammar the others share).
- `tools`: `path:line[:col]: message` tools (mypy, ruff, flake8, pyright, tsc, eslint, gcc/clang).
- `other`: other ecosystems (Java/Gradle/Maven, JavaScript test runners, Go); `generic`: the fallback.
"""
