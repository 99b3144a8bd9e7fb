"""Every constant of the benchmarks: what runs, on which backends, at which sizes.

Imported by the other modules of bench/; imports none of them.
"""
BACKENDS = ["asyncio", "uvloop", "trio", "curio", "tale"]
# Variants measured on one benchmark only, next to the backends: {benchmark: [names]}.
# "minimal" (bench/minimal.py) is the least trap loop that runs these two: the
# yardstick for what tale's features cost there.  Rung 3 of the ladder (the
# minimal scheduler) runs in the switch rounds, so that the target against it
# compares samples taken side by side.
EXTRA: dict[str, list[str]] = {"switches": ["floor:sched"], "spawn_join": ["minimal"],
                               "timers": ["minimal"]}
FLOORS = ["floor:send", "floor:await", "floor:sched", "floor:trap", "floor:dispatch",
          "floor:tuned"]

# What each benchmark reports in the main table:
#   (wall-clock key, CPU-time key, unit, lower_is_better, label made from its sizes)
HEADLINE = {
    "switches": ("ns_per_switch", "cpu_ns_per_switch", "ns per switch", True,
                 "switches: {tasks:,} tasks × {rounds:,} `sleep(0)`"),
    "spawn_join": ("us_per_task", "cpu_us_per_task", "µs per task", True,
                   "spawn + join: {tasks:,} trivial tasks"),
    "timers": ("overhead_seconds", "cpu_seconds", "s", True,
               "timers: {tasks:,} tasks sleep 0–{max_ms:g} ms"),
    "echo": ("round_trips_per_s", "cpu_round_trips_per_s", "round trips per s", False,
             "echo: {connections:,} connections × {trips:,} round trips of {size} B"),
}

# The targets chapter 14 states: (benchmark, reference, at least / at most, bound).
# A speed-up is the reference's time divided by tale's (for echo, tale's rate
# divided by the reference's), from CPU-time medians, so 2.00 means "twice as fast".
TARGETS = [
    ("switches", "asyncio", "≥", 5.0),
    ("switches", "floor:sched", "≤", 1.3),
    ("spawn_join", "asyncio", "≥", 2.5),
    ("timers", "asyncio", "≥", 4.0),
    ("echo", "asyncio", "≥", 2.0),
    ("switches", "uvloop", "≥", 1.0),
    ("spawn_join", "uvloop", "≥", 1.0),
    ("timers", "uvloop", "≥", 1.0),
    ("echo", "uvloop", "≥", 1.0),
]

# -- the main run (results.json) ---------------------------------------------------

FULL = {
    "repeats": 5,
    "timeout": 400,          # trio's timers at a million sleepers take about 150 s
    "main": {
        "switches": {"tasks": 100, "rounds": 10_000},
        "spawn_join": {"tasks": 100_000},
        "timers": {"tasks": 100_000, "max_ms": 10.0, "seed": 1},
        "echo": {"connections": 50, "trips": 2_000, "size": 64},
    },
    "switch_scaling": {"sizes": [10, 100, 1_000, 10_000, 100_000], "switches": 200_000,
                       "min_rounds": 5},
    "timer_scaling": {"sizes": [1_000, 10_000, 100_000, 300_000, 1_000_000], "max_ms": 10.0},
    "idle_cpu": {"tasks": 10_000, "seconds": 1.0},
    "memory": {"tasks": 10_000, "seconds": 3.0},
    "scaling_repeats": 1,
    "idle_repeats": 3,
    "floor_repeats": 7,
}

SMOKE = {
    "repeats": 1,
    "timeout": 60,
    "main": {
        "switches": {"tasks": 10, "rounds": 50},
        "spawn_join": {"tasks": 200},
        "timers": {"tasks": 200, "max_ms": 2.0, "seed": 1},
        "echo": {"connections": 3, "trips": 20, "size": 64},
    },
    "switch_scaling": {"sizes": [10, 100], "switches": 1_000, "min_rounds": 5},
    "timer_scaling": {"sizes": [100, 300], "max_ms": 2.0},
    "idle_cpu": {"tasks": 50, "seconds": 0.05},
    "memory": {"tasks": 100, "seconds": 0.5},
    "scaling_repeats": 1,
    "idle_repeats": 1,
    "floor_repeats": 1,
}

# One echo sample under cProfile, to show where tale's I/O path spends its time.
PROFILE = {"connections": 20, "trips": 500, "size": 64}
PROFILE_SMOKE = {"connections": 2, "trips": 10, "size": 64}

# -- what tale's optimisations bought and its unused features cost (variants.json) --

SWITCH_VARIANTS = ["tale", "tale:generic", "tale:trap-call", "tale:async-sleep",
                   "tale:wrapped", "tale:timeout", "tale:group", "tale:virtual"]
# Measured in the same rounds, to check chapter 14's switch targets a second time.
SWITCH_REFERENCES = ["asyncio", "floor:sched"]
GC_BACKENDS = ["tale", "minimal", "asyncio"]
# Each full collection of a timers run, objects and time: the two with the same
# three objects per sleeping task.
COLLECTION_BACKENDS = ["tale", "minimal"]

VARIANTS_FULL = {"repeats": 15, "gc_repeats": 5, "timeout": 180,
                 "switches": {"tasks": 100, "rounds": 10_000},
                 "timers": {"tasks": 100_000, "max_ms": 10.0, "seed": 1},
                 "tracked": {"tasks": 10_000, "seconds": 3.0}}
VARIANTS_SMOKE = {"repeats": 1, "gc_repeats": 1, "timeout": 60,
                  "switches": {"tasks": 10, "rounds": 50},
                  "timers": {"tasks": 200, "max_ms": 2.0, "seed": 1},
                  "tracked": {"tasks": 100, "seconds": 0.5}}

# -- chapter 14's steps from chapter 9's tick to the package's (kernel.json) --------

# (step, adapter, the adapter of the step before, what the step changes); the
# adapters run the classes of code/stages/ch14_kernels.py, then the package's
# kernel, with the task and spawn of before steps 6 and 7 (bench/patches/
# before-step6.patch, before-step7.patch: those steps change task.py and
# traps.py, not the kernel); "tale" is the package.
KERNEL_STEP_LIST = [
    ("1", "tale:step1", "tale:ch09-tick", "the batch in one piece, hot names in locals"),
    ("2", "tale:step2", "tale:step1", "a fast path for `sleep(0)`"),
    ("3", "tale:step3", "tale:step2", "the tick in one method, `_wake` inlined"),
    ("4", "tale:step4", "tale:step3", "a sleep's undo is its timer's number"),
    ("5", "tale:step5", "tale:step4", "one blank context for the tasks that need none"),
    ("6", "tale:step6", "tale:step5", "the fields a task seldom uses, in an object of their own"),
    ("7", "tale", "tale:step6", "`spawn` makes its own test"),
]
# Which steps each benchmark measures (the switch benchmark measures them all).
KERNEL_BENCHES = {"switches": ["1", "2", "3", "4", "5", "6", "7"],
                  "timers_gc": ["3", "4", "5", "6", "7"], "spawn_join": ["5", "6", "7"]}

KERNEL_FULL = {"repeats": 15, "gc_repeats": 7, "timeout": 180,
               "switches": {"tasks": 100, "rounds": 10_000},
               "spawn_join": {"tasks": 100_000},
               "timers": {"tasks": 100_000, "max_ms": 10.0, "seed": 1},
               "tracked": {"tasks": 10_000, "seconds": 3.0}}
KERNEL_SMOKE = {"repeats": 1, "gc_repeats": 1, "timeout": 60,
                "switches": {"tasks": 10, "rounds": 50},
                "spawn_join": {"tasks": 200},
                "timers": {"tasks": 200, "max_ms": 2.0, "seed": 1},
                "tracked": {"tasks": 100, "seconds": 0.5}}

# -- changes measured and not adopted (rejected.json) -------------------------------

# (adapter, benchmark, the adapter it is compared with, what it changes)
CHANGES = [
    ("tale:spawn-inline", "spawn_join", "tale",
     "`trap_spawn` makes the task itself instead of calling `_new_task`"),
    ("tale:spawn-trap", "spawn_join", "tale",
     "`spawn` a trap generator of its own, like `sleep`"),
    ("tale:timer-inline", "timers", "tale",
     "`trap_sleep` arms its timer itself instead of calling `TimerQueue.add`"),
    ("tale:no-task-table", "timers", "tale",
     "no task table and no parent link (what they cost; not a correct `tale`)"),
    ("minimal+table", "timers", "minimal",
     "`minimal` with a task table (what `run` needs to stop every task; a price)"),
    ("minimal+parent", "timers", "minimal+table",
     "and a weak link from each task to its parent (what `dump_tasks` needs; a price)"),
    ("minimal+handlers", "timers", "minimal+parent",
     "and its three requests answered through a table of handlers (a price)"),
    ("minimal+fields", "timers", "minimal+handlers",
     "and a task of thirteen fields, as many as `tale`'s (a price)"),
    ("minimal:heap-task", "timers", "minimal",
     "`minimal` with each timer's heap entry holding its task: no dictionary, "
     "and no cancelling"),
    ("lean", "timers", "minimal",
     "a task waits on its own task object, not a trap generator (`lean` against "
     "`minimal`)"),
    ("lean", "switches", "minimal",
     "the same, on the switch benchmark"),
]
# Measured in the same rounds as the timers changes, for their speed-up over it.
REFERENCE = "asyncio"

REJECTED_FULL = {"repeats": 15, "timeout": 180,
                 "switches": {"tasks": 100, "rounds": 10_000},
                 "spawn_join": {"tasks": 100_000},
                 "timers": {"tasks": 100_000, "max_ms": 10.0, "seed": 1}}
REJECTED_SMOKE = {"repeats": 1, "timeout": 60,
                  "switches": {"tasks": 10, "rounds": 50},
                  "spawn_join": {"tasks": 200},
                  "timers": {"tasks": 200, "max_ms": 2.0, "seed": 1}}
