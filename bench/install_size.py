"""What a fresh install costs, before and after the lean install (issue #26), in new venvs:

    python -m bench.install_size                  # ~20 min on 2 cores; writes bench/results/install_size.json
    python -m bench.install_size --before REV     # the "before" commit (default 9794d44)

Run from the repository root with the dev venv (it needs this checkout's bundled-model extra to
make the ONNX file the stand-in Hub serves).  For each install, into a new venv under /tmp with
an empty pip cache (every wheel fetched from the registries, as for a new user):

* before: `pip install torch==2.13.0 && pip install "SRC[ui]"` at REV (its documented install);
* after:  `pip install "SRC[ui]"` at this checkout's HEAD;
* space:  `pip install -r requirements.txt gradio==<sdk_version>` at HEAD (what a Space builds).

Measured: wall time of the pip commands, site-packages size (bytes of its files) and its largest
entries; then, in new processes of that venv, the first start with nothing cached (the model
exported with torch before; downloaded from a Hub stand-in on 127.0.0.1 after, as on a Space),
then cold starts with the model and the index in place (spawn to the first search's result,
median of --repeats, before and after taking turns) and the first search's own time; and the
top hit of every question in examples/dev_questions.jsonl, which must be the same before and
after.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from assistant.embedding import MiniLMEmbedding
from assistant.embedding.sources import HUB_REPO
from bench.harness import RESULTS, ROOT, write_result
from fixtures.hub_server import HubServer

OUT = RESULTS / "install_size.json"
DEV = ROOT / "examples" / "dev_questions.jsonl"

# Run in the measured venv, from a folder outside the checkout (so the installed package is the
# one imported): opens the index (building it on a first start), times the first search, then
# prints the top hit of every dev question.
CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from assistant import PaperAssistant, Settings
index_dir, model_cache, questions = sys.argv[1:4]
pa = PaperAssistant(Settings.load(index_dir=index_dir, model_cache=model_cache, collection="bundled"))
t1 = time.perf_counter()
qs = [json.loads(line)["question"] for line in open(questions, encoding="utf-8") if line.strip()]
hits = pa.search(qs[0], k=1)
t2 = time.perf_counter()
print(json.dumps({"open_s": t1 - t0, "first_search_s": t2 - t1}), flush=True)
top = [hits[0].paper.id if hits else None] + [(h[0].paper.id if h else None) for h in (pa.search(q, k=1) for q in qs[1:])]
heavy = [m for m in ("torch", "transformers", "sentence_transformers", "sklearn", "scipy", "sympy") if m in sys.modules]
print(json.dumps({"top_hits": top, "heavy_modules": heavy}), flush=True)
"""


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def source(rev: str, work: Path) -> Path:
    """The repository at `rev`, as files (what a user clones)."""
    dest = work / f"src-{rev}"
    dest.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


def size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def largest(sp: Path, n: int = 12) -> dict[str, float]:
    sizes = {p.name: size(p) if p.is_dir() else p.stat().st_size for p in sp.iterdir()}
    return {k: round(v / 1e6, 1) for k, v in sorted(sizes.items(), key=lambda kv: -kv[1])[:n]}


def install(name: str, steps: list[list[str]], work: Path) -> dict:
    """A new venv, then `steps` (pip arguments) timed with an empty pip cache."""
    venv = work / f"venv-{name}"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = dict(os.environ, PIP_CACHE_DIR=str(work / f"pip-cache-{name}"), PIP_DISABLE_PIP_VERSION_CHECK="1")
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    log(f"{name}: installing ({'; '.join(' '.join(s) for s in steps)})")
    seconds = [run(pip + step, env) for step in steps]
    sp = site_packages(venv)
    out = {
        "commands": [" ".join(["pip", "install", *s]) for s in steps],
        "install_s": round(sum(seconds), 1),
        "site_packages_mb": round(size(sp) / 1e6, 1),
        "largest_mb": largest(sp),
        "venv": str(venv),
    }
    log(f"{name}: {out['install_s']} s, site-packages {out['site_packages_mb']} MB")
    return out


def start(venv: Path, index: Path, models: Path, env: dict[str, str], cwd: Path) -> dict:
    """One new process: spawn to the first search's result, then every dev question's top hit."""
    t = time.perf_counter()
    p = subprocess.Popen(
        [str(venv / "bin" / "python"), "-c", CHILD, str(index), str(models), str(DEV)],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        text=True,
    )
    first = json.loads(p.stdout.readline())
    first["wall_s"] = time.perf_counter() - t
    rest = json.loads(p.stdout.readline())
    if p.wait(timeout=600) != 0:
        raise RuntimeError(f"the child in {venv} failed")
    return {**{k: round(v, 3) for k, v in first.items()}, **rest}


def starts(venvs: dict[str, tuple[Path, dict[str, str]]], work: Path, repeats: int) -> dict:
    """Per venv: the first start (nothing cached), then `repeats` cold starts with the model and
    the index in place, the venvs taking turns (so machine load hits them alike)."""
    where = {}
    for name, (venv, env) in venvs.items():
        cwd = work / f"run-{name}"
        cwd.mkdir()
        env = {k: v for k, v in env.items() if not k.startswith("ASSISTANT_")} | {"TOKENIZERS_PARALLELISM": "false"}
        where[name] = (venv, cwd / "index", cwd / "models", env, cwd)
    first = {name: start(*args) for name, args in where.items()}
    log("first starts " + ", ".join(f"{n} {f['wall_s']:.1f} s" for n, f in first.items()))
    cold: dict[str, list[dict]] = {name: [] for name in where}
    for _ in range(repeats):
        for name, args in where.items():
            cold[name].append(start(*args))
    log("cold starts " + "; ".join(f"{n} " + ", ".join(f"{c['wall_s']:.2f}" for c in cs) for n, cs in cold.items()))
    return {
        name: {
            "first_start_s": first[name]["wall_s"],
            "cold_start_s": round(statistics.median(c["wall_s"] for c in cs), 2),
            "first_search_s": round(statistics.median(c["first_search_s"] for c in cs), 3),
            "cold_start_runs_s": [c["wall_s"] for c in cs],
            "heavy_modules_imported": cs[-1]["heavy_modules"],
            "top_hits": cs[-1]["top_hits"],
            "model_files": sorted(str(p.relative_to(where[name][4])) for p in where[name][4].rglob("*.onnx")),
        }
        for name, cs in cold.items()
    }


def hub_stand_in(work: Path) -> HubServer:
    """The Hub's ONNX files of all-MiniLM-L6-v2 on 127.0.0.1, made from this checkout's bundled model."""
    files = MiniLMEmbedding(work / "serve-models").runner().files
    return HubServer(
        HUB_REPO, {"onnx/model.onnx": files.onnx.read_bytes(), "tokenizer.json": files.tokenizer.read_bytes()}
    ).start()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--before", default="9794d44", help="the commit measured as 'before'")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--keep", action="store_true", help="keep the venvs (printed) for a look")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="install-size-"))
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    sdk = re.search(r"^sdk_version:\s*(\S+)", (ROOT / "README.md").read_text(encoding="utf-8"), re.M).group(1)
    server = hub_stand_in(work)
    try:
        before_src, after_src = source(args.before, work), source("HEAD", work)
        installs = {
            "before": install("before", [["torch==2.13.0"], [f"{before_src}[ui]"]], work),
            "after": install("after", [[f"{after_src}[ui]"]], work),
            "space": install("space", [["-r", str(after_src / "requirements.txt"), f"gradio=={sdk}"]], work),
        }
        env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
        # the lean install reaches the Hub stand-in, as a Space reaches the Hub
        venvs = {
            "before": (Path(installs["before"]["venv"]), env),
            "after": (Path(installs["after"]["venv"]), env | {"HF_ENDPOINT": server.url}),
        }
        runs = starts(venvs, work, args.repeats)
    finally:
        server.stop()
    same = runs["before"]["top_hits"] == runs["after"]["top_hits"]
    result = {
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "before": args.before,
        "after": head.stdout.strip(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_1min": os.getloadavg()[0]},
        "installs": {k: {kk: vv for kk, vv in v.items() if kk != "venv"} for k, v in installs.items()},
        "starts": {k: {kk: vv for kk, vv in v.items() if kk != "top_hits"} for k, v in runs.items()},
        "dev_questions": len(runs["after"]["top_hits"]),
        "same_top_hit_for_every_dev_question": same,
        "top_hits_differing": [
            i for i, (a, b) in enumerate(zip(runs["before"]["top_hits"], runs["after"]["top_hits"])) if a != b
        ],
    }
    write_result(OUT, result)
    print(json.dumps(result, indent=2))
    if args.keep:
        log(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
