"""Fetch the published-paper PDFs the PDF tests read (tests/data/pdfs/manifest.json).

The papers are Journal of Statistical Software / R News articles that Debian ships as R
package vignettes.  They are GPL-licensed, so they are not committed: this downloads each
package's .deb with `apt-get download` (no root install), unpacks only the PDF with
`dpkg-deb --fsys-tarfile` and checks its SHA-256 against the manifest.  PDFs already in the
cache with the right hash are not downloaded again.

    python tests/fetch_pdfs.py            # fetch and verify; prints the paths
    python tests/fetch_pdfs.py --update   # Debian moved on: take the versions apt offers now
                                          # and rewrite versions, sizes and hashes in the manifest
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "data" / "pdfs" / "manifest.json"
CACHE = HERE / "data" / "pdfs" / "cache"


class FetchError(RuntimeError):
    """A manifest PDF could not be downloaded, unpacked or verified."""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600, check=False)
    except FileNotFoundError as e:
        raise FetchError(
            f"{cmd[0]} not found: the test PDFs come from Debian packages (apt-get and dpkg-deb are needed)"
        ) from e


def _download(package: str, version: str | None, into: Path) -> Path:
    """`apt-get download` one .deb (runs `apt-get update` once if apt knows no such package)."""
    spec = f"{package}={version}" if version else package
    for attempt in range(2):
        done = _run(["apt-get", "download", "-q", spec], into)
        debs = sorted(into.glob(f"{package}_*.deb"))
        if done.returncode == 0 and debs:
            return debs[-1]
        if attempt == 0:  # a fresh machine may have no package lists yet
            _run(["apt-get", "update", "-qq"], into)
    err = (done.stderr or done.stdout).strip().splitlines()
    raise FetchError(
        f"apt-get download {spec} failed: {err[-1] if err else 'no .deb produced'}. "
        "If Debian no longer has this version, run `python tests/fetch_pdfs.py --update` "
        "(as root, with a Debian package mirror reachable) and check the manifest facts."
    )


def _extract(deb: Path, member: str, dest: Path) -> None:
    """Copy one file out of a .deb without installing it (dpkg-deb streams the data tarball)."""
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|*") as tar:
            for info in tar:
                if info.name.lstrip("./") == member:
                    src = tar.extractfile(info)
                    tmp = dest.with_suffix(".part")
                    with open(tmp, "wb") as out:
                        shutil.copyfileobj(src, out)
                    os.replace(tmp, dest)
                    return
    finally:
        proc.stdout.close()
        proc.wait()
    raise FetchError(f"{deb.name} has no {member}")


def _entries() -> list[dict]:
    return json.loads(MANIFEST.read_text())["pdfs"]


def fetch(cache: Path = CACHE) -> dict[str, Path]:
    """Every manifest PDF, downloaded if needed and verified: {file name: path}."""
    cache.mkdir(parents=True, exist_ok=True)
    entries = _entries()
    paths = {e["file"]: cache / e["file"] for e in entries}
    missing = [e for e in entries if not (paths[e["file"]].exists() and sha256(paths[e["file"]]) == e["sha256"])]
    by_deb: dict[tuple[str, str], list[dict]] = {}
    for e in missing:
        by_deb.setdefault((e["package"], e["version"]), []).append(e)
    for (package, version), group in by_deb.items():
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            os.chmod(tmp, 0o755)  # apt's unprivileged _apt user writes the download here
            deb = _download(package, version, Path(tmp))
            for e in group:
                _extract(deb, e["path"], paths[e["file"]])
    for e in entries:
        got = sha256(paths[e["file"]])
        if got != e["sha256"]:
            raise FetchError(
                f"{e['file']} from {e['package']} {e['version']}: SHA-256 {got} "
                f"does not match the manifest's {e['sha256']}"
            )
    return paths


def update() -> None:
    """Rewrite versions, .deb sizes and PDF hashes from what apt offers now."""
    data = json.loads(MANIFEST.read_text())
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        debs: dict[str, Path] = {}
        for e in data["pdfs"]:
            if e["package"] not in debs:
                debs[e["package"]] = _download(e["package"], None, Path(tmp))
            deb = debs[e["package"]]
            version = _run(["dpkg-deb", "-f", str(deb), "Version"], Path(tmp)).stdout.strip()
            pdf = Path(tmp) / e["file"]
            _extract(deb, e["path"], pdf)
            e.update(version=version, deb_bytes=deb.stat().st_size, sha256=sha256(pdf))
            print(f"{e['file']}: {e['package']} {version}")
    MANIFEST.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help="take the package versions apt offers now")
    if parser.parse_args().update:
        update()
    try:
        for name, path in fetch().items():
            print(f"{name}\t{path}")
    except FetchError as e:
        sys.exit(f"fetch_pdfs: {e}")


if __name__ == "__main__":
    main()
