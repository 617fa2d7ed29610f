"""What a process forked from the ingest does first, whatever threads its parent runs."""

from __future__ import annotations

import sys

__all__ = ["own_standard_streams"]


def own_standard_streams() -> None:
    """Give this forked process standard output and error streams of its own.

    A fork copies the locks of the parent's threads as they were at that instant: when another
    thread of the parent (the progress bar's, the one counting the inputs) was writing to
    stderr then, the child's copy of that stream's lock stays held for ever, and the child's
    first write to it (a log record, a warning, the flush at its exit) never returns. New
    stream objects over the same descriptors have locks of their own.
    """
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        try:
            descriptor = stream.fileno()
        except (AttributeError, OSError, ValueError):  # none, closed, or not a file
            continue
        fresh = open(  # noqa: SIM115 - it lives as long as the process
            descriptor,
            "w",
            buffering=1,
            encoding=getattr(stream, "encoding", None),
            errors=getattr(stream, "errors", None),
            closefd=False,
        )
        setattr(sys, name, fresh)
