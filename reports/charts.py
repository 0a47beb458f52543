"""Charts drawn server-side as SVG markup (no script, text escaped), the same on screen and in
the PDFs (WeasyPrint draws SVG). Horizontal bars with an optional marker line; small columns
for a trend (the home page)."""
from markupsafe import escape

FONT = "Noto Sans CJK SC, WenQuanYi Micro Hei, sans-serif"
BLUES = ("#9ec5fe", "#6ea8fe", "#3d8bfd", "#0d6efd", "#0a58ca")


def bar_chart(bars, *, width=520, css_class="bar-chart", title="", marker=None,
              colours=BLUES, label_width=90, value_width=60, bar_height=22, gap=8,
              font_size=13):
    """Horizontal bars: `bars` = [{"label", "value", "text" (shown in a column of its own at the
    right, so a marker line never crosses it; the value by default)}], scaled to the largest
    value (or the marker's). `marker` = {"value", "label"}: a dashed line across the bars at
    that value (an average), labelled under the last bar."""
    top = max([b["value"] for b in bars] + ([marker["value"]] if marker else []),
              default=0) or 1
    span = width - label_width - value_width
    baseline = (bar_height + font_size) // 2 - 1  # the text centred on its bar
    height = len(bars) * (bar_height + gap) + gap + (18 if marker else 0)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" class="{escape(css_class)}" '
             f'aria-label="{escape(title)}" font-family="{FONT}" font-size="{font_size}">']
    for index, bar in enumerate(bars):
        y = gap + index * (bar_height + gap)
        length = max(round(span * bar["value"] / top) if bar["value"] > 0 else 0, 1)
        parts.append(
            f'<text x="{label_width - 8}" y="{y + baseline}" text-anchor="end" '
            f'fill="#212529">{escape(bar["label"])}</text>'
            f'<rect x="{label_width}" y="{y}" width="{length}" height="{bar_height}" '
            f'rx="2" fill="{colours[index % len(colours)]}"/>'
            f'<text x="{width - 4}" y="{y + baseline}" text-anchor="end" '
            f'fill="#212529">{escape(bar.get("text", bar["value"]))}</text>')
    if marker:
        x = label_width + round(span * max(marker["value"], 0) / top)
        bottom = len(bars) * (bar_height + gap) + gap
        anchor = "end" if x > width - 80 else "middle" if x > 80 else "start"
        parts.append(
            f'<line x1="{x}" y1="2" x2="{x}" y2="{bottom}" stroke="#dc3545" stroke-width="2" '
            f'stroke-dasharray="5,3"/>'
            f'<text x="{x}" y="{bottom + 14}" text-anchor="{anchor}" font-size="12" '
            f'fill="#dc3545">{escape(marker["label"])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def column_chart(columns, *, width=200, height=80, css_class="trend-chart", title="",
                 colour="#0d6efd", font_size=10):
    """Small vertical columns over time (a trend): `columns` = [{"label", "value", "text"
    (the value by default: shown as the column's tooltip)}], oldest first, scaled to the largest
    value; the first and last labels are written under the axis, the last value above it."""
    top = max([c["value"] for c in columns], default=0) or 1
    axis = height - font_size - 6
    step = width / max(len(columns), 1)
    bar = max(step - 3, 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" class="{escape(css_class)}" '
             f'aria-label="{escape(title)}" font-family="{FONT}" font-size="{font_size}">']
    for index, column in enumerate(columns):
        x = round(index * step + 1, 1)
        tall = round((axis - font_size - 4) * max(column["value"], 0) / top) \
            if column["value"] > 0 else 0
        tall = max(tall, 1)
        last = index == len(columns) - 1
        parts.append(
            f'<rect x="{x}" y="{axis - tall}" width="{round(bar, 1)}" height="{tall}" rx="1" '
            f'fill="{colour if last else BLUES[0]}"><title>{escape(column["label"])}: '
            f'{escape(column.get("text", column["value"]))}</title></rect>')
    parts.append(f'<line x1="0" y1="{axis}" x2="{width}" y2="{axis}" stroke="#adb5bd"/>')
    if columns:
        parts.append(f'<text x="1" y="{height - 2}" fill="#6c757d">'
                     f'{escape(columns[0]["label"])}</text>'
                     f'<text x="{width - 1}" y="{height - 2}" text-anchor="end" fill="#6c757d">'
                     f'{escape(columns[-1]["label"])}</text>'
                     f'<text x="{width - 1}" y="{font_size}" text-anchor="end" '
                     f'fill="#212529">{escape(columns[-1].get("text", columns[-1]["value"]))}'
                     f'</text>')
    parts.append("</svg>")
    return "".join(parts)
