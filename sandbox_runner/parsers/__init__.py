"""Streaming log parsers, one module per family, each class implementing `failure.LineParser`.

- `python`: pytest (every `--tb` style, xdist, reruns, subtests), unittest, doctest and plain Python
  tracebacks (chained exceptions included).
- `tools`: `path:line[:col]: message` tools (mypy, ruff, flake8, pyright, tsc, eslint, gcc/clang).
- `other`: other ecosystems (Java/Gradle/Maven, JavaScript test runners, Go) and a generic fallback.
"""
