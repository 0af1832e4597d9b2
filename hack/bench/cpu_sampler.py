"""Where a Python process of this repo spends its CPU, sampled by CPU time (issue 16).

py-spy samples the stacks of threads it finds running, by wall clock. On a loaded
machine a thread that waits for a core is counted as busy too: every write on loopback
wakes an API server, the syncer is preempted in ``send()``, and socket writes looked like
14% of the syncer's time while its own counters put all system time at 11% (see
docs/performance.md, session 7). This runs a module under ``ITIMER_PROF``, which fires
only while the process uses CPU (user and system, at the kernel's tick: 250 Hz on the
sandbox machines), and counts the Python stack each signal lands on. CPU spent in C (TLS,
the event loop, JSON parsing) is charged to the Python frame that called it, or to the
next one the loop runs; signals that arrive during one C call longer than a tick merge
into one sample, so C-heavy work is under-counted (the syncer: 2.35 s of samples for
3.35 s of CPU).

    PYTHONPATH=. .venv/bin/python hack/bench/cpu_sampler.py --out /tmp/cpu.folded \\
        -- -m syncer --kubeconfig=...      # the syncer's usual arguments
    kill -USR1 <pid>    # start over: drop the samples so far (after a warm-up round)
    kill -USR2 <pid>    # write the samples so far to --out (also written at exit)
    .venv/bin/python hack/bench/cpu_sampler.py --report /tmp/cpu.folded [--by file]

The file holds collapsed stacks ("frame;frame;...;frame count"), as flamegraph.pl and
speedscope read them. The process keeps its own SIGUSR1/SIGUSR2 handlers out: the syncer
installs none.
"""

from __future__ import annotations

import argparse
import collections
import runpy
import signal
import sys
from pathlib import Path
from types import FrameType

ROOT = str(Path(__file__).resolve().parents[2]) + "/"


def frame_name(frame: FrameType) -> str:
    code = frame.f_code
    path = code.co_filename.removeprefix(ROOT)
    if "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
    return f"{code.co_name} ({path}:{code.co_firstlineno})"


class Sampler:
    """Counts the main thread's Python stack at every SIGPROF."""

    def __init__(self, out: Path, interval_s: float) -> None:
        self.out = out
        self.interval_s = interval_s
        self.stacks: collections.Counter[str] = collections.Counter()

    def sample(self, _signum: int, frame: FrameType | None) -> None:
        names: list[str] = []
        while frame is not None:
            names.append(frame_name(frame))
            frame = frame.f_back
        self.stacks[";".join(reversed(names))] += 1

    def write(self, *_: object) -> None:
        lines = [f"{stack} {count}\n" for stack, count in self.stacks.items()]
        self.out.write_text("".join(lines))

    def reset(self, *_: object) -> None:
        self.stacks.clear()

    def start(self) -> None:
        signal.signal(signal.SIGPROF, self.sample)
        signal.signal(signal.SIGUSR1, self.reset)
        signal.signal(signal.SIGUSR2, self.write)
        signal.setitimer(signal.ITIMER_PROF, self.interval_s, self.interval_s)

    def stop(self) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        signal.signal(signal.SIGPROF, signal.SIG_IGN)
        self.write()


def run(argv: list[str], sampler: Sampler) -> None:
    """``-m module args`` or ``script args``, as python would run them."""
    sampler.start()
    try:
        if argv[0] == "-m":
            sys.argv = [argv[1], *argv[2:]]
            runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        else:
            sys.argv = list(argv)
            runpy.run_path(argv[0], run_name="__main__")
    finally:
        sampler.stop()


def report(path: Path, by: str, top: int) -> None:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        names = [_key(frame, by) for frame in stack.split(";")]
        own[names[-1]] += n
        for name in set(names):
            inclusive[name] += n
    print(f"{total} samples")
    for title, table in (("self", own), ("inclusive", inclusive)):
        print(f"-- {title}")
        for name, n in table.most_common(top):
            print(f"{100 * n / max(total, 1):6.1f}%  {name}")


def _key(frame: str, by: str) -> str:
    if by == "file":
        return frame.rpartition(" (")[2].rpartition(":")[0]
    return frame.rpartition(":")[0] + ")" if by == "function" else frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="where the collapsed stacks go")
    parser.add_argument("--interval", type=float, default=0.001,
                        help="seconds of CPU between samples (the kernel's tick bounds it)")
    parser.add_argument("--report", type=Path, help="print the tables of a file written before")
    parser.add_argument("--by", choices=("function", "file", "line"), default="function")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="after --: -m module args, or script args")
    args = parser.parse_args()
    if args.report:
        report(args.report, args.by, args.top)
        return
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command or args.out is None:
        parser.error("give --out and, after --, the module or script to run")
    run(command, Sampler(args.out, args.interval))


if __name__ == "__main__":
    main()
