"""What the bench scripts share: percentiles, wall and CPU time, peak memory, calls on worker
threads, and the result files in bench/results/.

    python -m bench.harness peak-rss CMD ...   # run CMD, then print its peak RSS (peak_rss_launcher)

Nothing heavy is imported here (numpy only when a percentile is taken): the peak-RSS
launcher must stay small, and bench.child imports it in a measured process.  The library
never imports bench/;
`paper-assistant eval` has its own assistant.evaluation.metrics.percentile (the "linear"
method below, nan for no values too).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent  # the checkout: scripts run from here, as `python -m bench.NAME`
RESULTS = ROOT / "bench" / "results"


# --- percentiles -------------------------------------------------------------------------------


def percentile(values: Iterable[float], q: float, method: str = "linear") -> float:
    """The q-th percentile (0..100) of `values`; nan for no values (a figure that was not
    measured, never a 0 that reads as a fast one).

    method "linear" interpolates between the closest ranks (numpy's default: bench.bench's
    figures); "nearest" takes the value at rank round(q / 100 * (n - 1)), ties to even (the
    figures of bench.scale and bench.fulltext_scale, which have always been computed so)."""
    v = list(values)
    if not v:
        return float("nan")
    import numpy as np

    return float(np.percentile(v, q, method=method))


# --- time ----------------------------------------------------------------------------------------


class Clock:
    """Wall-clock and CPU seconds of the blocks run under it: `with Clock() as c: ...`, then
    `c.wall`, `c.cpu`.  CPU time is time.process_time(): every thread of this process (ONNX
    Runtime's, the index writer's), the steadier figure when other work shares the cores.
    A Clock used for several blocks adds them up."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0

    def __enter__(self) -> Clock:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall += time.perf_counter() - self._wall
        self.cpu += time.process_time() - self._cpu


def timed(fn: Callable[..., Any], *args: Any) -> float:
    """Wall-clock seconds of one call fn(*args)."""
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


def on_threads(fn: Callable[[Any], Any], items: Sequence[Any], workers: int) -> tuple[list[Any], list[float]]:
    """fn(item) for every item, on `workers` threads at once: (the results, the wall-clock
    seconds of each call), both in the order of `items`.  A call's exception is raised here."""
    from concurrent.futures import ThreadPoolExecutor

    def one(item: Any) -> tuple[Any, float]:
        t = time.perf_counter()
        result = fn(item)
        return result, time.perf_counter() - t

    with ThreadPoolExecutor(workers) as pool:
        done = list(pool.map(one, items))
    return [r for r, _ in done], [s for _, s in done]


# --- memory ----------------------------------------------------------------------------------------


def peak_rss_mb(pid: int | str = "self") -> float:
    """A process's peak resident memory so far (the kernel's VmHWM), in MiB; this process by
    default.  nan where /proc/<pid>/status has no VmHWM."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def children_peak_rss_kb() -> int:
    """The largest peak RSS (KiB on Linux) of this process's children that have ended and been
    waited for (getrusage RUSAGE_CHILDREN, ru_maxrss)."""
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def peak_rss_launcher(cmd: list[str]) -> list[str]:
    """`cmd` run under a small launcher process, which prints one JSON line when `cmd` has
    ended: {"event": "rusage", "max_rss_kb": N}, the child's own peak RSS, and exits with its
    code.  Why a launcher: Linux carries the RSS high-water mark of the process that forks into
    the exec'd child's ru_maxrss, so a child forked straight from a large process would report
    at least that process's size.  The launcher runs `python -m bench.harness`: run it from the
    checkout (or with it on PYTHONPATH)."""
    return [sys.executable, "-m", "bench.harness", "peak-rss", *cmd]


# --- result files ----------------------------------------------------------------------------------


def read_result(path: Path) -> dict:
    """A result file's JSON; {} when there is none yet (the scripts that merge runs into one file)."""
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def write_result(path: str | Path, data: Any) -> Path:
    """Write `data` to `path` (the scripts' default: a file in RESULTS) as JSON: one-space
    indent, non-ASCII as is, a newline at the end; the folder is made if need be.  Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2 or args[0] != "peak-rss":
        sys.exit(__doc__)
    import subprocess

    code = subprocess.call(args[1:])
    print(json.dumps({"event": "rusage", "max_rss_kb": children_peak_rss_kb()}))
    return code


if __name__ == "__main__":
    sys.exit(main())
