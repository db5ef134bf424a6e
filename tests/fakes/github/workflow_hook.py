"""git's `proc-receive` hook for the local GitHub: a push by a token without `workflows: write` that
would bring in a workflow change is rejected per ref, with GitHub's reason, which git shows as

     ! [remote rejected] main -> main (refusing to allow a GitHub App to create or update workflow …)

smart_http.py installs it (core.hooksPath, receive.procReceiveRefs=am:refs) only for such pushes;
the other refs the push creates or moves are updated here, as a proc-receive hook must. Standard
library only: it runs as its own process, in the bare repository, once the pushed objects are in
place.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import BinaryIO

HERE = Path(__file__).resolve().parent
REFUSAL_ENV = "FAKE_GITHUB_WORKFLOW_REFUSAL"  # GitHub's message, with `{path}`


def _gitstore() -> ModuleType:
    """gitstore.py (standard library only), without importing the fake's package."""
    spec = importlib.util.spec_from_file_location("fake_gitstore", HERE / "gitstore.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def read_pkt(stream: BinaryIO) -> bytes | None:
    """One pkt-line's payload; None for a flush packet (or the end of input)."""
    size = stream.read(4)
    if len(size) < 4 or size == b"0000":
        return None
    return stream.read(int(size, 16) - 4)


def read_section(stream: BinaryIO) -> list[bytes]:
    lines = []
    while (line := read_pkt(stream)) is not None:
        lines.append(line.rstrip(b"\n"))
    return lines


def write_pkts(stream: BinaryIO, lines: list[str]) -> None:
    for line in lines:
        data = (line + "\n").encode()
        stream.write(f"{len(data) + 4:04x}".encode() + data)
    stream.write(b"0000")
    stream.flush()


def main() -> int:
    store = _gitstore()
    repo = Path(os.environ.get("GIT_DIR", "."))
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    read_section(stdin)  # version=1 and receive-pack's capabilities
    write_pkts(stdout, ["version=1"])
    commands = [line.decode().split(" ", 2) for line in read_section(stdin)]
    answers = []
    for old, new, ref in commands:  # creations and moves only (receive.procReceiveRefs=am:refs)
        written = store.introduced_workflow_writes(repo, new)
        if written:
            answers.append(f"ng {ref} " + os.environ[REFUSAL_ENV].format(path=written[0]))
        else:
            store.update_ref(repo, ref, new, old)  # an all-zero old: the ref must not exist yet
            answers.append(f"ok {ref}")
    write_pkts(stdout, answers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
