"""The dashboard's historical charts, drawn as SVG by the service with pygal (no script, no
CDN: the console works on a closed network). The console shows them as images."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pygal
from pygal.etree import etree
from pygal.style import Style

from handoff.errors import Invalid

STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1f2933",
    foreground_strong="#1f2933",
    foreground_subtle="#7b8794",
    colors=("#2563eb", "#f97316", "#16a34a", "#9333ea"),
    font_family="sans-serif",
    no_data_font_size=18,  # pygal's default fills the whole plot
)
# chart name -> (title, kind, [(series label, point field, scale)])
CHARTS: dict[str, tuple[str, str, list[tuple[str, str, float]]]] = {
    "volume": (
        "Handoffs and bot contacts",
        "bar",
        [("handoffs", "handoffs", 1), ("bot contacts", "bot_contacts", 1)],
    ),
    "first_response": (
        "Time to first response (minutes)",
        "line",
        [("p50", "first_response_p50", 60), ("p90", "first_response_p90", 60)],
    ),
    "handle_time": (
        "Handle time (minutes)",
        "line",
        [("p50", "handle_p50", 60), ("p90", "handle_p90", 60)],
    ),
    "sla": (
        "SLA attainment, first response (%)",
        "line",
        [("attainment", "sla_first_response_attainment", 0.01)],
    ),
    "containment": ("Bot containment (%)", "line", [("containment", "containment_rate", 0.01)]),
    "csat": (
        "Customer satisfaction",
        "line",
        [("satisfied, CSAT 4-5 (%)", "csat_satisfied_rate", 0.01), ("NPS", "nps", 1)],
    ),
}


def render(name: str, points: Sequence[dict[str, Any]]) -> str:
    if name not in CHARTS:
        raise Invalid(f"chart must be one of {', '.join(CHARTS)}.", "invalid_chart")
    title, kind, series = CHARTS[name]
    chart_type = pygal.Bar if kind == "bar" else pygal.Line
    chart = chart_type(
        style=STYLE,
        js=[],  # no script: pygal would otherwise load its tooltips from the internet
        width=640,
        height=300,
        explicit_size=True,
        show_legend=len(series) > 1,
        legend_at_bottom=True,
        x_label_rotation=30,
        show_minor_x_labels=False,
        truncate_label=-1,
        allow_interruptions=True,
        title=title,
        no_data_text="No data in this period",
    )
    labels = [point["bucket"] for point in points]
    chart.x_labels = labels
    chart.x_labels_major = labels[:: max(1, len(labels) // 8)]
    for label, field, scale in series:
        chart.add(label, [_scaled(point.get(field), scale) for point in points])
    tree = chart.render_tree()
    for parent in list(tree.iter()):
        for child in list(parent):
            if str(child.tag).endswith("script"):  # pygal always adds its config script
                parent.remove(child)
    return etree.tostring(tree, encoding="unicode")


def _scaled(value: Any, scale: float) -> float | None:
    return None if value is None else round(value / scale, 2)
