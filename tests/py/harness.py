"""Shared helpers for the nats-py scripts in this directory (run by tests/nats_py.rs).

Each script takes the server URL as argv[1], runs one asyncio body against it within a
time limit, prints one line ("ok <name>: <summary>" or "FAIL <name>: <reason>") and exits
non-zero on any failure. The checks below raise AssertionError explicitly (plain `assert`
statements would vanish under `python3 -O`).
"""

import asyncio
import sys
import time
import traceback

import nats


class CheckFailed(AssertionError):
    pass


def eq(got, want, what):
    """Fails unless got == want."""
    if got != want:
        raise CheckFailed(f"{what}: got {got!r}, expected {want!r}")


def check(cond, what):
    """Fails unless cond is true."""
    if not cond:
        raise CheckFailed(what)


async def within(aw, secs, what):
    """Awaits aw, failing (with what) if it takes longer than secs seconds."""
    try:
        return await asyncio.wait_for(aw, secs)
    except asyncio.TimeoutError:
        raise CheckFailed(f"timed out after {secs}s: {what}") from None


async def raises(exc_types, aw, what, secs=5.0):
    """Awaits aw (bounded by secs), failing unless it raises one of exc_types; returns the
    exception."""
    try:
        result = await asyncio.wait_for(aw, secs)
    except exc_types as e:  # noqa: PERF203
        return e
    except asyncio.TimeoutError:
        raise CheckFailed(f"timed out after {secs}s: {what}") from None
    raise CheckFailed(f"{what}: expected {exc_types}, got the result {result!r}")


async def connect(url, name):
    errors = []

    async def on_error(e):
        errors.append(e)

    nc = await asyncio.wait_for(
        nats.connect(
            url,
            name=name,
            connect_timeout=2,
            allow_reconnect=False,
            error_cb=on_error,
        ),
        5,
    )
    nc._test_errors = errors
    return nc


def main(name, body, limit=20.0):
    """Runs `await body(url)` (a coroutine returning a one-line summary) within `limit`
    seconds and reports the result."""
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} nats://HOST:PORT", file=sys.stderr)
        sys.exit(2)
    url = sys.argv[1]
    start = time.monotonic()
    try:
        summary = asyncio.run(within(body(url), limit, f"the whole of {name}"))
    except BaseException as e:  # report everything, KeyboardInterrupt included
        traceback.print_exc()
        print(f"FAIL {name}: {type(e).__name__}: {e}")
        sys.stdout.flush()
        sys.exit(1)
    print(f"ok {name}: {summary} ({time.monotonic() - start:.1f}s)")
