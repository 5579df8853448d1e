"""The stage plot: where a question's time goes, next to the starter recipe and BM25."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

STAGE_LABELS = {
    "embed": "embed query",
    "dense": "dense search (passages + papers)",
    "keyword": "keyword search (BM25)",
    "fusion": "fusion",
    "gate": "relevance gate",
    "answer": "extractive answer",
}
COLORS = {
    "embed": "#4c72b0",
    "dense": "#55a868",
    "keyword": "#c44e52",
    "fusion": "#8172b2",
    "gate": "#ccb974",
    "answer": "#64b5cd",
    "rest": "#999999",
}


def plot_stages(lat: dict, path: Path) -> None:
    """Horizontal stacked bars of median milliseconds per stage."""
    stages = lat["stages_ms"]
    ms = lat["ms"]
    starter_embed = ms["starter_embed"]["p50"]
    rows = [
        ("paper-assistant\nsearch + answer", [(s, stages[s]["p50"]) for s in STAGE_LABELS]),
        (
            "starter recipe\nretrieval",
            [("embed", starter_embed), ("rest", max(ms["starter"]["p50"] - starter_embed, 0.0))],
        ),
        ("BM25 only\nretrieval", [("keyword", ms["bm25"]["p50"])]),
    ]
    fig, ax = plt.subplots(figsize=(10, 3.4), dpi=120)
    seen = set()
    for y, (_name, parts) in enumerate(rows):
        left = 0.0
        for stage, width in parts:
            label = "vector search + LlamaIndex" if stage == "rest" else STAGE_LABELS[stage]
            ax.barh(
                y,
                width,
                height=0.6,
                left=left,
                color=COLORS[stage],
                edgecolor="white",
                label=None if label in seen else label,
            )
            seen.add(label)
            left += width
        ax.text(left, y, f"  {left:.1f} ms", va="center", fontsize=9)
        small = [f"{STAGE_LABELS.get(st, st).split(' (')[0]} {w:.2f}" for st, w in parts if w < 0.03 * left]
        if small:  # too thin to see: name them under the bar
            ax.text(0, y + 0.45, "thin: " + ", ".join(small) + " ms", va="center", fontsize=7, color="#444444")
    ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel("milliseconds (median per stage, warm, one question)")
    n = ms["search"]["n"]
    ax.set_title(f"Where a question's time goes ({n} timed questions, bundled collection)", fontsize=10)
    ax.set_xlim(0, max(sum(w for _, w in parts) for _, parts in rows) * 1.25)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
