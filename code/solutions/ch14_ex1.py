"""Chapter 14, exercise 1: what one poll costs, and its share of a switch."""
import selectors
import socket
import time


def poll_ns(calls=100_000):
    """Nanoseconds per select(0) on a selector that watches one idle socket."""
    a, b = socket.socketpair()
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(a, selectors.EVENT_READ)
            start = time.perf_counter()
            for _ in range(calls):
                selector.select(0)
            return (time.perf_counter() - start) / calls * 1e9
    finally:
        a.close()
        b.close()


def switch_ns(step_ns, poll_ns, live_tasks):
    """Cost per switch when every tick polls once and runs every live task once."""
    return step_ns + poll_ns / live_tasks
