"""The Python parsers in one place: pytest, unittest, doctest and plain tracebacks.

Each class implements `failure.LineParser`: it is fed cleaned lines one at a time and keeps a
bounded amount of state (the first failure's frames and exception, capped lists of test ids), so
a log of any length parses in constant memory.
"""

from sandbox_runner.parsers.pytest_output import PytestParser
from sandbox_runner.parsers.pytraceback import TracebackParser
from sandbox_runner.parsers.pyunittest import DoctestParser, UnittestParser

__all__ = ["DoctestParser", "PytestParser", "TracebackParser", "UnittestParser"]
