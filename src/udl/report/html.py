"""Self-contained HTML reports: one per run directory, and an index for ``udl reproduce``.

Everything is rendered from the files a run directory holds (config.json, result.json, figures/*.png), so
``udl report DIR`` can re-render at any time. Figures are embedded as base64 PNGs; no network, no scripts.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from udl.report.verdicts import claim_mark, tally

_CSS = """
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#1d2433}
h1{font-size:1.6em;margin-bottom:.2em} h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
.meta{color:#5b6478} .context{background:#f5f7fb;border-left:4px solid #7a8cc9;padding:.6em 1em;margin:1em 0}
table{border-collapse:collapse;width:100%;margin:.5em 0} th,td{border-bottom:1px solid #e3e6ee;padding:.35em .6em;
text-align:left;vertical-align:top} th{background:#f0f2f7} td.num{font-family:ui-monospace,monospace}
.ok{color:#137333;font-weight:600} .bad{color:#b3261e;font-weight:600}
.open{color:#8a6d00;font-weight:600} .badge{padding:.1em .5em;border-radius:4px}
.badge.ok{background:#e6f4ea} .badge.bad{background:#fce8e6} figure{margin:1em 0} figure img{max-width:100%;
border:1px solid #e3e6ee} figcaption{color:#5b6478;font-size:.9em} code{font-family:ui-monospace,monospace}
.error{background:#fce8e6;padding:.6em 1em;border-radius:4px;font-family:ui-monospace,monospace}
"""


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        shown = ", ".join(_fmt(v) for v in value[:12])
        return f"[{shown}{', …' if len(value) > 12 else ''}]"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items())
    return str(value)


def _e(value: Any) -> str:
    return html.escape(_fmt(value))


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>\n{body}\n</body></html>\n"
    )


_MARK = {
    "holds": ("ok", "✓"),
    "fails": ("bad", "✗"),
    "not established": ("open", "?"),
    "not evaluated": ("open", "–"),
}


def _verdict_rows(items: list[dict[str, Any]], *, evaluated: bool) -> str:
    rows = []
    for c in items:
        word = claim_mark(c, evaluated=evaluated)
        css, mark = _MARK[word]
        rows.append(
            f"<tr><td class='{css}' title='{word}'>{mark}</td><td><code>{_e(c['id'])}</code></td>"
            f"<td>{_e(c['statement'])}</td><td class='num'>{_e(c['measured'])}</td>"
            f"<td class='num'>{_e(c['expected'])}</td><td class='{css}'>{word}</td></tr>"
        )
    return "".join(rows)


def render_run(directory: Path) -> str:
    """The HTML report of one run directory, from its config.json, result.json and figures."""
    config = json.loads((directory / "config.json").read_text())
    result = json.loads((directory / "result.json").read_text())
    t = tally(result)
    status = f"<span class='badge {'ok' if t.ok else 'bad'}'>{html.escape(t.claims_text())}</span>"
    if t.checks:
        status += f" <span class='badge {'ok' if not t.checks_failed else 'bad'}'>{t.checks_text()}</span>"
    parts = [
        f"<h1>{html.escape(result['experiment'])}</h1>",
        f"<p class='meta'>Chapter {_e(result.get('chapter', '?'))} · preset <b>{_e(result['preset'])}</b> · "
        f"seed {_e(config['config'].get('seed', '?'))} · device {_e(config.get('device', '?'))} · "
        f"{_e(round(float(result.get('seconds', 0.0)), 1))} s · {status}</p>",
    ]
    if result.get("summary"):
        parts.append(f"<p>{_e(result['summary'])}</p>")
    if result.get("context"):
        parts.append(f"<div class='context'><b>From the book.</b> {_e(result['context'])}</div>")
    if result.get("error"):
        parts.append(f"<h2>Error</h2><div class='error'>{_e(result['error'])}</div>")
    if result.get("claims"):
        note = (
            ""
            if t.evaluated
            else f"<p class='meta'>Not evaluated at {_e(t.preset)}: this preset only proves the code path; "
            "run the quick or full preset for verdicts.</p>"
        )
        parts.append(
            "<h2>Claims</h2><p class='meta'>Empirical statements of the book, judged from the measurements "
            "(comparisons: mean ± standard error over seeds, paired by seed, against the stated bar).</p>"
            f"{note}<table><tr><th></th><th>id</th><th>the book says</th><th>measured</th>"
            f"<th>expected</th><th>verdict</th></tr>{_verdict_rows(result['claims'], evaluated=t.evaluated)}"
            "</table>"
        )
    if result.get("checks"):
        parts.append(
            "<h2>Checks</h2><p class='meta'>Identities and exact properties, verified numerically "
            "(error against tolerance); not counted as book claims.</p><table><tr><th></th><th>id</th>"
            "<th>property</th><th>error</th><th>tolerance</th><th>verdict</th></tr>"
            f"{_verdict_rows(result['checks'], evaluated=True)}</table>"
        )
    for rel in result.get("figures", []):
        png = directory / rel
        if png.exists():
            data = base64.b64encode(png.read_bytes()).decode()
            parts.append(
                f"<figure><img alt='{html.escape(rel)}' src='data:image/png;base64,{data}'>"
                f"<figcaption>{html.escape(Path(rel).stem)}</figcaption></figure>"
            )
    if result.get("metrics"):
        rows = "".join(
            f"<tr><td><code>{_e(k)}</code></td><td class='num'>{_e(v)}</td></tr>"
            for k, v in sorted(result["metrics"].items())
        )
        parts.append(f"<h2>Final metrics</h2><table>{rows}</table>")
    rows = "".join(
        f"<tr><td><code>{_e(k)}</code></td><td class='num'>{_e(v)}</td></tr>"
        for k, v in config["config"].items()
    )
    parts.append(f"<h2>Config</h2><table>{rows}</table>")
    parts.append(
        f"<p class='meta'>udl {_e(config.get('udl_version'))} · torch {_e(config.get('torch_version'))} · "
        f"created {_e(config.get('created'))}{' · resumed' if result.get('resumed') else ''}</p>"
    )
    return _page(f"udl · {result['experiment']}", "\n".join(parts))


def render_index(title: str, entries: list[tuple[str, dict[str, Any]]]) -> str:
    """An index page: one row per (relative run directory, result.json document)."""
    rows = []
    totals = {"held": 0, "failed": 0, "open": 0, "checks": 0, "checks_failed": 0}
    for rel, result in entries:
        t = tally(result)
        if t.evaluated and t.status == "ok":
            totals["held"] += t.claims_held
            totals["failed"] += t.claims_failed
            totals["open"] += t.claims_open
        totals["checks"] += t.checks
        totals["checks_failed"] += t.checks_failed
        not_held = ", ".join(
            f"{c['id']} ({claim_mark(c)})" for c in result.get("claims", []) if c.get("holds") is not True
        )
        if not t.evaluated:
            not_held = ""
        if t.status != "ok":
            not_held = f"error: {result.get('error') or 'unknown'}"
        bad_checks = ", ".join(c["id"] for c in result.get("checks", []) if c.get("holds") is not True)
        css, mark = ("ok", "✓") if t.ok else ("bad", "✗")
        rows.append(
            f"<tr><td class='{css}'>{mark}</td>"
            f"<td><a href='{html.escape(rel)}/report.html'>{_e(result['experiment'])}</a></td>"
            f"<td>{_e(result.get('chapter', ''))}</td><td>{_e(result['preset'])}</td>"
            f"<td class='num'>{html.escape(t.claims_text())}</td><td>{_e(not_held)}</td>"
            f"<td class='num'>{t.checks_text()}</td><td>{_e(bad_checks)}</td>"
            f"<td class='num'>{float(result.get('seconds', 0.0)):.1f}</td>"
            f"<td>{_e(result.get('reuse', ''))}</td></tr>"
        )
    n_ok = sum(tally(r).ok for _, r in entries)
    body = (
        f"<h1>{html.escape(title)}</h1><p class='meta'>{n_ok}/{len(entries)} experiments with no claim or "
        f"check failing. Book claims: {totals['held']} hold, {totals['failed']} do not, {totals['open']} not "
        f"established; checks: {totals['checks'] - totals['checks_failed']}/{totals['checks']} pass. "
        "Click a name for its report.</p><table><tr><th></th><th>experiment</th><th>chapter</th>"
        "<th>preset</th><th>claims</th><th>claims not holding</th><th>checks</th><th>checks failing</th>"
        "<th>seconds</th><th>run</th></tr>" + "".join(rows) + "</table>"
    )
    return _page(title, body)
