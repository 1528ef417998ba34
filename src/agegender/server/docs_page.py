"""``/docs``: a plain HTML API reference rendered on the server from the OpenAPI schema.

FastAPI's own ``/docs`` (Swagger UI) and ``/redoc`` pages load their scripts and fonts
from a CDN; they are turned off so that the server never makes a browser fetch anything
from the internet. The machine-readable schema stays at ``/openapi.json``.
"""

from __future__ import annotations

from html import escape
from typing import Any


def _schema_text(content: dict[str, Any]) -> str:
    kinds = ", ".join(escape(k) for k in content)
    return kinds or "-"


def render_docs(openapi: dict[str, Any]) -> str:
    """An HTML page listing every operation: method, path, summary, body and responses."""
    info = openapi.get("info", {})
    title = escape(info.get("title", "API"))
    version = escape(info.get("version", ""))
    rows: list[str] = []
    for path, ops in openapi.get("paths", {}).items():
        for method, op in ops.items():
            body = op.get("requestBody", {}).get("content", {})
            responses = "".join(
                f"<li><code>{escape(code)}</code> {escape(r.get('description', ''))}</li>"
                for code, r in op.get("responses", {}).items()
            )
            rows.append(
                f'<section class="card op"><h3><span class="method">{escape(method.upper())}'
                f"</span> <code>{escape(path)}</code></h3>"
                f"<p>{escape(op.get('summary', ''))}</p>"
                f'<p class="muted">{escape(op.get("description", "") or "")}</p>'
                + (f"<p><b>Body:</b> {_schema_text(body)}</p>" if body else "")
                + f"<ul>{responses}</ul></section>"
            )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title} - API</title>"
        '<link rel="stylesheet" href="/static/style.css"></head><body><main class="docs">'
        f"<h1>{title} <small>{version}</small></h1>"
        '<p>The machine-readable schema is at <a href="/openapi.json">/openapi.json</a>. '
        'Errors are JSON <code>{"error": {"type", "message"}}</code>. The WebSocket '
        "<code>/v1/stream</code> takes binary JPEG frames and answers one JSON object per "
        'processed frame. <a href="/">Back to the app</a>.</p>'
        + "".join(rows)
        + "</main></body></html>"
    )
