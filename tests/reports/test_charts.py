"""The SVG bar chart: figures in a column of their own, escaped text, a marker line."""
import re

from reports.charts import bar_chart


def _texts(svg):
    return [(float(x), body) for x, body in re.findall(r'<text x="([\d.]+)"[^>]*>([^<]*)</text>',
                                                     svg)]


def test_figures_stand_right_of_every_bar_and_of_the_average_line():
    bars = [{"label": "刘芳", "value": 250_000, "text": "¥2,500.00"},
            {"label": "陈伟", "value": 240_000, "text": "¥2,400.00"},
            {"label": "王强", "value": 100_000, "text": "¥1,000.00"}]
    svg = bar_chart(bars, marker={"value": 245_000, "label": "平均 ¥2,450.00"},
                    value_width=110)
    line_x = float(re.search(r'<line x1="([\d.]+)"', svg)[1])
    bar_ends = [float(x) + float(w) for x, w in
                re.findall(r'<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', svg)]
    figures = [(x, body) for x, body in _texts(svg) if body.startswith("¥2") or
               body.startswith("¥1")]
    assert [body for _x, body in figures] == ["¥2,500.00", "¥2,400.00", "¥1,000.00"]
    # One right-aligned column, clear of the longest bar and of the dashed line: the line
    # never crosses a figure (the 2,400 bar ends just left of the 2,450 average).
    assert len({x for x, _body in figures}) == 1
    assert all(x - 80 > max(bar_ends + [line_x]) for x, _body in figures)
    assert 'text-anchor="end"' in svg


def test_labels_are_escaped():
    svg = bar_chart([{"label": "<script>x</script>", "value": 1}])
    assert "<script>" not in svg and "&lt;script&gt;" in svg
