"""The report page's stylesheet, inlined into report.html (no file, font or image is fetched)."""

from __future__ import annotations

CSS = """
:root { color-scheme: light; --ink: #1f2430; --muted: #5d6470; --line: #e3e6eb; --card: #fff; }
* { box-sizing: border-box; }
body { margin: 0; background: #f4f5f8; color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif; }
header { padding: 20px 28px 8px; }
h1 { margin: 0; font-size: 22px; }
h1 .id { font-weight: 500; color: var(--muted); }
.meta, .note { color: var(--muted); margin: 4px 0 10px; }
main { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 16px; padding: 8px 28px 28px; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 14px 18px;
  min-width: 0; }
section#timeline, section#runs { grid-column: 1 / -1; }
h2 { margin: 0 0 6px; font-size: 16px; }
h3 { margin: 14px 0 6px; font-size: 14px; color: var(--muted); }
table { border-collapse: collapse; width: 100%; margin-top: 8px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: 12px; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.sub { padding-left: 22px; color: var(--muted); }
.chart { display: block; max-width: 100%; height: auto; }
.chart .label, .chart .value, .chart .tick { font-size: 12px; fill: var(--ink); }
.chart .tick { fill: var(--muted); font-size: 11px; }
.chart .axis { stroke: #9aa0a8; } .chart .grid { stroke: var(--line); }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; }
.legend .key { margin-right: 14px; color: var(--muted); }
.none, .example { color: var(--muted); }
.example { font-size: 12px; }
details summary { cursor: pointer; color: var(--muted); margin-top: 6px; }
code { font-size: 12px; }
"""
