"""The emotion dashboard (the seed's): six-label bar chart, the valence/arousal point on the circumplex, a timeline.

:func:`plot_dashboard` draws one input's result to a PNG with matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.mapping import LABEL_VA
from models.types import LABELS, EmotionAnalysis, EmotionEstimate

__all__ = ["LABEL_COLOURS", "plot_dashboard"]

LABEL_COLOURS: dict[str, str] = {
    "sadness": "#4C72B0", "joy": "#F2B701", "love": "#E377C2",
    "anger": "#D62728", "fear": "#8C564B", "surprise": "#2CA02C",
}


def _bars(ax, est: EmotionEstimate, title: str) -> None:  # type: ignore[no-untyped-def]
    vals = [float(est.labels[k]) for k in LABELS]
    ax.bar(LABELS, vals, color=[LABEL_COLOURS[k] for k in LABELS])
    ax.set_ylim(0, 1)
    ax.set_ylabel("probability")
    flag = " (neutral: nothing to judge)" if est.neutral else ""
    ax.set_title(f"{title}{flag}\nconfidence {est.confidence:.2f}", fontsize=10)
    ax.tick_params(axis="x", rotation=30)
    for i, v in enumerate(vals):
        ax.text(i, v + 0.02, f"{v:.2f}", ha="center", fontsize=8)


def _circumplex(ax, points: list[tuple[str, EmotionEstimate, str]]) -> None:  # type: ignore[no-untyped-def]
    t = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(t), np.sin(t), color="0.8", lw=1)
    ax.axhline(0, color="0.85", lw=0.8)
    ax.axvline(0, color="0.85", lw=0.8)
    for k in LABELS:
        v, a = LABEL_VA[k]
        ax.scatter([v], [a], s=30, color=LABEL_COLOURS[k], alpha=0.6)
        ax.annotate(k, (v, a), textcoords="offset points", xytext=(4, 4), fontsize=8, color=LABEL_COLOURS[k])
    for name, est, marker in points:
        ax.scatter([est.valence], [est.arousal], s=110 if name == "overall" else 50, marker=marker,
                   color="black" if name == "overall" else "0.45", zorder=5, label=name)
    ax.set_xlim(-1.1, 1.1)
    ax.set_ylim(-1.1, 1.1)
    ax.set_aspect("equal")
    ax.set_xlabel("valence")
    ax.set_ylabel("arousal")
    ax.set_title("circumplex", fontsize=10)
    ax.legend(loc="lower right", fontsize=7)


def _timeline(ax, analysis: EmotionAnalysis) -> None:  # type: ignore[no-untyped-def]
    if not analysis.timeline:
        ax.text(0.5, 0.5, "no speech", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    for item in analysis.timeline:
        bottom = 0.0
        for k in LABELS:
            h = float(item.estimate.labels[k])
            ax.bar(item.start, h, width=item.end - item.start, bottom=bottom, align="edge",
                   color=LABEL_COLOURS[k], edgecolor="none", label=k if item is analysis.timeline[0] else None)
            bottom += h
    ax.set_ylim(0, 1)
    ax.set_ylabel("labels")
    ax.set_xlabel("time (s)")
    ax2 = ax.twinx()
    mids = [0.5 * (i.start + i.end) for i in analysis.timeline]
    ax2.plot(mids, [i.estimate.valence for i in analysis.timeline], "k-o", ms=3, lw=1.2, label="valence")
    ax2.plot(mids, [i.estimate.arousal for i in analysis.timeline], "k--s", ms=3, lw=1.2, label="arousal")
    ax2.set_ylim(-1.05, 1.05)
    ax2.set_ylabel("valence / arousal")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=8, fontsize=7)
    ax.set_title("timeline (fused voice + words per speech segment)", fontsize=10)


def plot_dashboard(result: EmotionAnalysis | EmotionEstimate, path: str | Path, *, title: str = "") -> Path:
    """Draw the dashboard of one input and save it as an image.

    Parameters
    ----------
    result : EmotionAnalysis or EmotionEstimate
        An audio input's analysis (bars + circumplex + timeline) or a text's estimate (bars + circumplex).
    path : str or Path
        Output image (PNG recommended; any format matplotlib writes). Its folder must exist.
    title : str
        Figure title, e.g. the input's name.

    Returns
    -------
    Path
        ``path``.
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    path = Path(path)
    if isinstance(result, EmotionAnalysis):
        fig = plt.figure(figsize=(12, 8))
        gs = fig.add_gridspec(2, 2, height_ratios=[1.1, 1.0])
        _bars(fig.add_subplot(gs[0, 0]), result.overall, "overall mood")
        points = [("overall", result.overall, "o")]
        points += [(name, est, "^" if name == "voice" else "s") for name, est in result.sources.items()
                   if est is not None and not est.neutral]
        _circumplex(fig.add_subplot(gs[0, 1]), points)
        _timeline(fig.add_subplot(gs[1, :]), result)
    else:
        fig = plt.figure(figsize=(11, 4.5))
        gs = fig.add_gridspec(1, 2)
        _bars(fig.add_subplot(gs[0, 0]), result, "text emotion")
        _circumplex(fig.add_subplot(gs[0, 1]), [("overall", result, "o")])
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
