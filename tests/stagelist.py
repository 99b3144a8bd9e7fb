"""The stages of Part I, and which features each one has.

Behaviour that a stage gains stays in every later stage, so a behaviour test
is written once and parametrised over every stage that has the feature:

    @pytest.mark.parametrize("stage", stages_with("join"))
    def test_something(stage): ...

A later chapter appends its stage here with the features it has.  The
features so far:

- "run":    run(coro) returns the result, lets exceptions out as themselves,
            throws a TypeError naming a bad request into the task.
- "pause":  the ('pause',) and ('now',) requests.
- "tasks":  a Loop class with Task objects; spawn, join, current; ticks.
- "sleep":  sleep(seconds), an injected clock, VirtualClock, run(coro, clock).
- "io":     read_wait/write_wait on a selector; recv, send, accept, connect;
            ResourceBusyError for a second waiter; loop.selector.
- "cancel": cancel(task) throws CancelledError (a BaseException) wherever the
            task waits and returns when it has ended; swallowing is reported.
- "invariants": Loop(debug=True) / TALE_DEBUG=1 call check_invariants()
            after every tick; PLACES maps each task state to its one place.
"""
import importlib

import pytest

STAGES = {
    "ch03_loop": {"run", "pause"},
    "ch04_spawn": {"run", "pause", "tasks"},
    "ch05_time": {"run", "pause", "tasks", "sleep"},
    "ch06_io": {"run", "pause", "tasks", "sleep", "io"},
    "ch07_cancel": {"run", "pause", "tasks", "sleep", "io", "cancel"},
    "ch08_one_loop": {"run", "pause", "tasks", "sleep", "io", "cancel", "invariants"},
}


def stages_with(*features):
    """pytest params: the stage modules that have every one of `features`."""
    wanted = set(features)
    return [pytest.param(importlib.import_module(f"stages.{name}"), id=name)
            for name, has in STAGES.items() if wanted <= has]
