"""The preview page's stylesheet, inlined into preview.html (nothing is fetched)."""

from __future__ import annotations

CSS = """
:root { color-scheme: light; --ink: #1f2430; --muted: #5d6470; --viber: #7360f2; --line: #e3e6eb; }
* { box-sizing: border-box; }
body { margin: 0; background: #eef0f4; color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif; }
header { padding: 18px 24px 4px; }
h1 { margin: 0; font-size: 22px; } h1 .id { font-weight: 500; color: var(--muted); }
.meta, .legend { color: var(--muted); margin: 4px 0; }
main { padding: 8px 24px 24px; display: grid; grid-template-columns: repeat(auto-fill, minmax(760px, 1fr));
  gap: 18px; }
.recipient { background: #fff; border: 1px solid var(--line); border-radius: 12px; padding: 12px 16px 16px; }
.recipient h2 { margin: 0 0 10px; font-size: 15px; }
.recipient h2 .where { font-weight: 400; color: var(--muted); font-size: 12px; margin-left: 6px; }
.phones { display: flex; flex-wrap: wrap; gap: 22px; align-items: flex-start; }
.phone { width: 340px; border: 10px solid #1d1f24; border-radius: 30px; background: #fff; overflow: hidden;
  box-shadow: 0 4px 14px rgba(0, 0, 0, .12); }
.phone.none { border-style: dashed; border-color: #c5c9d0; padding: 18px; }
.bar { display: flex; align-items: center; gap: 8px; padding: 12px 14px; color: #fff; background: var(--viber); }
.sms .bar { background: #3d4350; }
.bar .dot { width: 26px; height: 26px; border-radius: 50%; background: rgba(255, 255, 255, .35); flex: none; }
.bar .sender { font-weight: 600; flex: 1; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.bar .app { font-size: 11px; opacity: .8; }
.screen { background: #f1eefc; padding: 14px 12px 16px; min-height: 200px; }
.sms .screen { background: #f3f4f6; }
.bubble { background: #fff; border-radius: 4px 16px 16px 16px; padding: 10px 12px; max-width: 290px;
  box-shadow: 0 1px 2px rgba(0, 0, 0, .08); }
.sms .bubble { background: #e5e6ea; }
.bubble .text { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.button { display: block; margin-top: 10px; padding: 9px 10px; border-radius: 20px; background: var(--viber);
  color: #fff; text-align: center; font-weight: 600; font-size: 13px; text-decoration: none; white-space: nowrap;
  overflow: hidden; }
.opens { font-size: 12px; color: var(--muted); margin: 10px 2px 0; }
.opens code, .facts code { overflow-wrap: anywhere; color: var(--ink); }
.facts, .sms-facts { font-size: 12px; color: var(--muted); margin: 6px 2px 0; }
mark.var { border-radius: 3px; padding: 0 1px; color: inherit; }
mark.personal { background: #ffe58a; }
mark.campaign { background: #cfe3ff; }
.button mark.var { color: var(--ink); }
.cut { text-decoration: line-through; color: #b03030; opacity: .75; }
.warning { margin: 8px 2px 0; padding: 6px 8px; border-radius: 6px; background: #fdecea; color: #8a1c1c;
  font-size: 12px; font-weight: 600; }
.note { font-size: 12px; color: var(--muted); margin: 6px 2px 0; }
.none { color: var(--muted); }
"""
