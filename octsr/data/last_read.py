"""What was read last, shared by the pairs that read it.

Pairs are loaded in order, and neighbouring pairs often read the same thing: the B-scans of
one volume (`volume_pairs`), the noisy frames of one scan (`frame_targets`). Holding only the
last one read means each is read once, and never more than one is in memory.
"""

from __future__ import annotations

from typing import Callable, Generic, Hashable, TypeVar

T = TypeVar("T")


class LastRead(Generic[T]):
    def __init__(self) -> None:
        self.key: Hashable | None = None
        self.value: T | None = None

    def get(self, key: Hashable, read: Callable[[], T]) -> T:
        """The value for `key`: the one held if `key` was read last, else `read()`."""
        if key != self.key or self.value is None:
            self.value, self.key = read(), key
        return self.value
