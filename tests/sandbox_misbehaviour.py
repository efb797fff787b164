"""Calls that misbehave on purpose inside the sandbox (its fork server imports them by name; stdlib only)."""

import os
import resource
import signal
import time

MB = 1024 * 1024


def eat_memory() -> list:
    """Allocate until the address-space limit stops it."""
    blocks = []
    while True:
        blocks.append(bytearray(32 * MB))


def spin() -> list:
    """Burn CPU forever."""
    while True:
        pass


def sleep() -> list:
    """Wait without using CPU (only the wall clock catches it)."""
    time.sleep(3600)
    return []


def crash() -> list:
    """Die the way a broken native library would."""
    os.kill(os.getpid(), signal.SIGSEGV)
    return []


def parse_measured(path: str, filename: str, limits) -> list:
    """What the sandbox's parse returns, followed by the child's peak resident memory in bytes."""
    from app.ingest.sandbox import parse_stored

    parsed = parse_stored(path, filename, limits, None)
    return [*parsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024]


def trickle(count: int, pause: float):
    """Yield `count` items, `pause` seconds apart (a mailbox whose every message takes a while)."""
    for index in range(count):
        time.sleep(pause)
        yield index


def stall_after(count: int):
    """Yield `count` items, then hang (a message that stalls the reader)."""
    yield from range(count)
    time.sleep(3600)
