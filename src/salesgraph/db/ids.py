"""Time-ordered UUIDs (version 7, RFC 9562): index-friendly primary keys made in the application."""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_millis = 0
_counter = 0


def uuid7() -> uuid.UUID:
    """A version 7 UUID; ids made in one process are strictly increasing, even within a millisecond.

    48 bits of Unix milliseconds, then a 12-bit counter in rand_a that orders ids made in the
    same millisecond (RFC 9562, section 6.2, method 1), then 62 random bits.
    """
    global _last_millis, _counter
    with _lock:
        millis = time.time_ns() // 1_000_000
        if millis > _last_millis:
            _last_millis = millis
            _counter = int.from_bytes(os.urandom(2), "big") & 0x3FF  # leave room to count up
        else:
            _counter += 1
            if _counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                _last_millis += 1
                _counter = 0
            millis = _last_millis
        counter = _counter
    return uuid7_from(millis, counter, int.from_bytes(os.urandom(8), "big"))


def uuid7_from(millis: int, rand_a: int, rand_b: int) -> uuid.UUID:
    """The version 7 UUID of a Unix time in milliseconds, 12 bits of rand_a and 62 of rand_b."""
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= (rand_a & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand_b & ((1 << 62) - 1)
    return uuid.UUID(int=value)
