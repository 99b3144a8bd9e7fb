"""What an idle loop costs while a thread works: polling against the wake-up socket.

    python bench/run.py --thread-wait [--repeats N]

One task waits for a thread that sleeps `S` seconds (1 by default), three ways:
``poll-sleep0`` checks a flag between ``await tale.sleep(0)``, ``poll-1ms``
between ``await tale.sleep(0.001)``, and ``wakeup`` awaits
``tale.run_in_thread(time.sleep, S)``, woken by the loop's wake-up socket.
Each line is the CPU time of the whole process (``time.process_time``: every
thread) spent during the wait, and the wall time of the wait.  Chapter 18
quotes these numbers.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "code"))
import tale  # noqa: E402


async def _poll(seconds, interval):
    done = threading.Event()
    thread = threading.Thread(target=lambda: (time.sleep(seconds), done.set()))
    thread.start()
    while not done.is_set():
        await tale.sleep(interval)
    thread.join()


async def _wakeup(seconds, interval):
    await tale.run_in_thread(time.sleep, seconds)


WAYS = {"poll-sleep0": (_poll, 0), "poll-1ms": (_poll, 0.001), "wakeup": (_wakeup, None)}


def measure(way, seconds):
    """(CPU seconds, wall seconds) of the process while one task waits `seconds`."""
    corofunc, interval = WAYS[way]
    cpu0, wall0 = time.process_time(), time.monotonic()
    tale.run(corofunc, seconds, interval, debug=False)
    return time.process_time() - cpu0, time.monotonic() - wall0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"{'way':<12} {'cpu s':>8} {'wall s':>8}")
    for _ in range(args.repeats):
        for way in WAYS:
            cpu, wall = measure(way, args.seconds)
            print(f"{way:<12} {cpu:8.4f} {wall:8.3f}")
