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

_CSS = """
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#1d2433}
h1{font-size:1.6em;margin-bottom:.2em} h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
.meta{color:#5b6478} .context{background:#f5f7fb;border-left:4px solid #7a8cc9;padding:.6em 1em;margin:1em 0}
table{border-collapse:collapse;width:100%;margin:.5em 0} th,td{border-bottom:1px solid #e3e6ee;padding:.35em .6em;
text-align:left;vertical-align:top} th{background:#f0f2f7} td.num{font-family:ui-monospace,monospace}
.ok{color:#137333;font-weight:600} .bad{color:#b3261e;font-weight:600} .badge{padding:.1em .5em;border-radius:4px}
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


def verdict(result: dict[str, Any]) -> tuple[int, int]:
    """(claims held, claims total) of a result.json document."""
    claims = result.get("claims", [])
    return sum(bool(c.get("holds")) for c in claims), len(claims)


def render_run(directory: Path) -> str:
    """The HTML report of one run directory, from its config.json, result.json and figures."""
    config = json.loads((directory / "config.json").read_text())
    result = json.loads((directory / "result.json").read_text())
    held, total = verdict(result)
    ok = result.get("status") == "ok" and held == total
    status = (
        f"<span class='badge {'ok' if ok else 'bad'}'>{held}/{total} claims hold</span>"
        if result.get("status") == "ok"
        else "<span class='badge bad'>run failed</span>"
    )
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
        rows = "".join(
            f"<tr><td class='{'ok' if c['holds'] else 'bad'}'>{'✓' if c['holds'] else '✗'}</td>"
            f"<td><code>{_e(c['id'])}</code></td><td>{_e(c['statement'])}</td>"
            f"<td class='num'>{_e(c['measured'])}</td><td class='num'>{_e(c['expected'])}</td></tr>"
            for c in result["claims"]
        )
        parts.append(
            "<h2>Claims</h2><table><tr><th></th><th>id</th><th>the book says</th><th>measured</th>"
            f"<th>expected</th></tr>{rows}</table>"
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
    for rel, result in entries:
        held, total = verdict(result)
        ok = result.get("status") == "ok" and held == total
        state = f"{held}/{total}" if result.get("status") == "ok" else "failed"
        failed = ", ".join(c["id"] for c in result.get("claims", []) if not c["holds"])
        rows.append(
            f"<tr><td class='{'ok' if ok else 'bad'}'>{'✓' if ok else '✗'}</td>"
            f"<td><a href='{html.escape(rel)}/report.html'>{_e(result['experiment'])}</a></td>"
            f"<td>{_e(result.get('chapter', ''))}</td><td>{_e(result['preset'])}</td>"
            f"<td class='num'>{state}</td><td>{_e(failed)}</td>"
            f"<td class='num'>{float(result.get('seconds', 0.0)):.1f}</td></tr>"
        )
    n_ok = sum(r.get("status") == "ok" and verdict(r)[0] == verdict(r)[1] for _, r in entries)
    body = (
        f"<h1>{html.escape(title)}</h1><p class='meta'>{n_ok}/{len(entries)} experiments with every claim "
        "holding. Click a name for its report.</p><table><tr><th></th><th>experiment</th><th>chapter</th>"
        "<th>preset</th><th>claims</th><th>failed claims</th><th>seconds</th></tr>"
        + "".join(rows)
        + "</table>"
    )
    return _page(title, body)
