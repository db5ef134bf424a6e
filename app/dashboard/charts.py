"""Small SVG bar charts, rendered on the server by one pure function: no JavaScript, no library.

Every piece of text is escaped here, because the markup is inserted into the page as is.
"""

from __future__ import annotations

from html import escape

WIDTH, HEIGHT, PAD = 600, 160, 24
PALETTE = ("#2f855a", "#c05621", "#2b6cb0", "#9b2c2c", "#6b46c1", "#718096", "#b7791f", "#285e61")


def _fmt(value: float) -> str:
    return f"{value:.2f}" if value and value < 10 and not float(value).is_integer() else f"{value:,.0f}"


def render_bar_chart(testid: str, title: str, days: list[str], bars: list[dict[str, float]]) -> str:
    """Stacked bars, one per day (`bars[i]` maps a series name to its value on `days[i]`)."""
    series = sorted({name for bar in bars for name in bar})
    colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(series)}
    top = max((sum(bar.values()) for bar in bars), default=0) or 1
    step = (WIDTH - 2 * PAD) / max(len(days), 1)
    parts = [
        f'<svg data-testid="{escape(testid)}" class="chart" viewBox="0 0 {WIDTH} {HEIGHT + 40}" '
        f'role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{PAD}" y1="{HEIGHT}" x2="{WIDTH - PAD}" y2="{HEIGHT}" stroke="#999"/>',
        f'<text x="{PAD}" y="12" class="axis">{escape(_fmt(top))}</text>',
    ]
    for i, (day, bar) in enumerate(zip(days, bars, strict=True)):
        x, y = PAD + i * step, float(HEIGHT)
        for name in series:
            value = bar.get(name, 0)
            if value <= 0:
                continue
            h = value / top * (HEIGHT - PAD)
            y -= h
            parts.append(
                f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{max(step - 2, 1):.1f}" height="{h:.1f}" '
                f'fill="{colours[name]}" data-day="{escape(day)}" data-series="{escape(name)}">'
                f"<title>{escape(day)} {escape(name)}: {escape(_fmt(value))}</title></rect>"
            )
    if days:
        parts.append(f'<text x="{PAD}" y="{HEIGHT + 14}" class="axis">{escape(days[0])}</text>')
        end = f'<text x="{WIDTH - PAD}" y="{HEIGHT + 14}" class="axis" text-anchor="end">'
        parts.append(f"{end}{escape(days[-1])}</text>")
    for i, name in enumerate(series):
        parts.append(
            f'<rect x="{PAD + i * 110}" y="{HEIGHT + 24}" width="10" height="10" fill="{colours[name]}"/>'
            f'<text x="{PAD + i * 110 + 14}" y="{HEIGHT + 33}" class="legend">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
