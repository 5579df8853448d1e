"""The repository deploys as a Hugging Face Space unchanged: front matter, app file, requirements."""

import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def front_matter() -> dict[str, str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.match(r"---\n(.*?)\n---\n", text, re.S)
    assert m, "README.md must start with the Space's YAML front matter"
    return {k.strip(): v.strip().strip('"') for k, v in (line.split(":", 1) for line in m.group(1).splitlines())}


def test_front_matter_declares_a_gradio_space_running_app_py():
    fm = front_matter()
    assert {"title", "emoji", "sdk", "sdk_version", "app_file", "python_version", "license"} <= set(fm)
    assert fm["sdk"] == "gradio" and fm["app_file"] == "app.py" and (ROOT / "app.py").is_file()
    assert fm["license"] == PYPROJECT["project"]["license"].lower()  # an SPDX expression
    assert fm["python_version"] in SpecifierSet(PYPROJECT["project"]["requires-python"])
    assert len(fm.get("short_description", "")) <= 60


def test_sdk_version_is_the_pinned_gradio():
    gradio = next(Requirement(r) for r in PYPROJECT["project"]["optional-dependencies"]["ui"] if r.startswith("gradio"))
    assert gradio.specifier.contains(front_matter()["sdk_version"])


def test_space_requirements_are_the_runtime_dependencies():
    """The Space runs the web app: the library's dependencies and the ui extra's, but Gradio."""
    lines = [ln.strip() for ln in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()]
    reqs = {str(Requirement(ln)) for ln in lines if ln and not ln.startswith(("#", "-"))}
    ui = [r for r in PYPROJECT["project"]["optional-dependencies"]["ui"] if not r.startswith("gradio")]
    assert reqs == {str(Requirement(r)) for r in PYPROJECT["project"]["dependencies"] + ui}
    assert not any(r.startswith("gradio") for r in reqs)  # the Space installs sdk_version's Gradio itself
    assert not any(ln.startswith("-") for ln in lines if ln)  # no other index: nothing from it is needed


# Pulled in before only to export the embedding model to ONNX once (~1.2 GB installed).
HEAVY = {"torch", "transformers", "sentence-transformers", "scikit-learn", "scipy", "sympy"}


def closure(requirements: list[str]) -> set[str]:
    """The distributions these requirements install, read from what is installed here (extras followed)."""
    from importlib import metadata

    from packaging.utils import canonicalize_name

    seen: set[str] = set()
    todo = [(Requirement(r), "") for r in requirements]
    while todo:
        req, extra = todo.pop()
        if req.marker and not req.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(req.name)
        key = name + "".join(f"[{e}]" for e in sorted(req.extras))
        if key in seen:
            continue
        seen.add(key)
        for sub in metadata.requires(name) or []:
            sub_req = Requirement(sub)
            for wanted in req.extras or {""}:
                todo.append((sub_req, wanted))
    return {k.split("[")[0] for k in seen}


def test_the_runtime_and_the_ui_extra_install_no_torch():
    """What `pip install .[ui]` and the Space install: nothing that was there only for the one-time
    export (the bundled-model extra keeps it, for machines that reach no model hub)."""
    ui = PYPROJECT["project"]["optional-dependencies"]["ui"]
    lean = closure(PYPROJECT["project"]["dependencies"] + ui)
    assert {"onnxruntime", "tokenizers", "huggingface-hub", "gradio"} <= lean
    assert not lean & HEAVY, f"pulled in by the runtime or ui dependencies: {sorted(lean & HEAVY)}"
    assert {"torch", "transformers"} <= closure(PYPROJECT["project"]["optional-dependencies"]["bundled-model"])


def test_a_built_wheel_holds_every_package_and_the_bundled_collection(tmp_path):
    """A plain (not editable) install gets the ui package and every subpackage of the library
    (index/, llm/, ...), and the bundled papers file: built from a copy of the sources."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for pkg in ("assistant", "ui"):
        shutil.copytree(ROOT / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(src),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = out.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = [
        p.parent.relative_to(ROOT).as_posix() for pkg in ("assistant", "ui") for p in (ROOT / pkg).rglob("__init__.py")
    ]
    assert len(packages) > 2
    missing = [p for p in packages if f"{p}/__init__.py" not in names]
    assert not missing, f"packages left out of the wheel: {missing}"
    assert "assistant/data/hf_papers_page.txt" in names
