"""Structured logging: one JSON object per line when stderr is not a terminal, text otherwise.

Every line passes through `redact()` last, so a token that reaches a message, an argument, an
`extra` field or a traceback is masked before it is written.

Context travels in `extra=`: `delivery_id`, `event`, `repo`, `job_id`, `job_try` are printed when
present, so every line about a delivery or a job can be found by its id.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, Literal

import orjson

from sandbox_runner.redact import redact

CONTEXT_FIELDS = ("delivery_id", "event", "action", "repo", "job_id", "job_try", "function", "outcome")
_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(self._format(record))

    def _format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in record.__dict__.keys() - _RESERVED:  # the `extra=` context, if any
            if not key.startswith("_"):
                out[key] = record.__dict__[key]
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(self._format(record))

    def _format(self, record: logging.LogRecord) -> str:
        line = f"{time.strftime('%H:%M:%S', time.localtime(record.created))} {record.levelname:<7} "
        line += record.getMessage()
        extras = [f"{k}={record.__dict__[k]}" for k in CONTEXT_FIELDS if record.__dict__.get(k) is not None]
        if extras:
            line += "  " + " ".join(extras)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(fmt: Literal["auto", "json", "text"] = "auto", level: str = "info") -> None:
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    # a record per delivery is on the hot path: skip what these lines never print (logging's
    # documented optimisation; caller file/line lookups alone cost several µs per record)
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # a line per HTTP request from the clients (httpx2 and httpcore2 are the anthropic SDK's)
    for noisy in ("uvicorn.access", "httpx", "httpcore", "httpx2", "httpcore2"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
