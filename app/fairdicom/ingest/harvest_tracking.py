"""Follow each harvested study through the pipeline, to know when all of it is in the store.

The harvest hands the pipeline its studies' instances in order; the pipeline reads them in
that order, puts the ones it accepts into batches in that order and commits the batches in
that order. So a study is stored once all of its instances have been read and every one the
pipeline accepted is in a committed batch: then its harvest state can be written, and a run
killed later keeps it (a re-run fetches only the rest).
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass


@dataclass
class _Read:
    """One instance the pipeline has read, not yet known to be in a committed batch."""

    label: str
    study: str
    accepted: bool = True


class StudyTracker:
    """Count each study's instances as the pipeline reads and commits them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._handed: deque[tuple[str, str]] = deque()
        """(label, study) of each instance handed to the pipeline and not read yet."""
        self._expected: dict[str, int] = {}
        self._read: Counter[str] = Counter()
        self._uncommitted: deque[_Read] = deque()
        self._waiting: Counter[str] = Counter()
        """Study -> its instances read and not yet committed (nor rejected)."""
        self._done: set[str] = set()

    def hand(self, study: str, labels: list[str]) -> None:
        """Note the instances of a study, by label, as they go to the pipeline (in order)."""
        with self._lock:
            self._expected[study] = len(labels)
            self._handed.extend((label, study) for label in labels)

    def read(self) -> None:
        """Note that the pipeline read the next instance."""
        with self._lock:
            label, study = self._handed.popleft()
            self._read[study] += 1
            self._uncommitted.append(_Read(label, study))
            self._waiting[study] += 1

    def rejected(self, label: str) -> None:
        """Note that the instance just read was not accepted (it will be in no batch)."""
        with self._lock:
            if self._uncommitted and self._uncommitted[-1].label == label:
                last = self._uncommitted[-1]
                if last.accepted:
                    last.accepted = False
                    self._waiting[last.study] -= 1

    def committed(self, instances: int) -> None:
        """Note that the pipeline committed a batch of this many instances."""
        with self._lock:
            while self._uncommitted and (instances > 0 or not self._uncommitted[0].accepted):
                entry = self._uncommitted.popleft()
                if entry.accepted:
                    instances -= 1
                    self._waiting[entry.study] -= 1

    def stored(self) -> list[str]:
        """Return the studies that are in the store since the last call: all of their
        instances read, every accepted one committed."""
        with self._lock:
            found = [
                study
                for study, expected in self._expected.items()
                if study not in self._done
                and self._read[study] == expected
                and self._waiting[study] == 0
            ]
            self._done.update(found)
            return found
