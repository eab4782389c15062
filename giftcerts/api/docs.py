"""GET /api/v1/docs: a self-contained HTML reference (no CDN, no JavaScript), rendered by
Jinja2 with autoescaping from the same operations and models as the OpenAPI document."""

from __future__ import annotations

import json
import re
from functools import lru_cache

from jinja2 import Environment
from markupsafe import Markup, escape

from giftcerts import config
from giftcerts.api import openapi
from giftcerts.api.errors import CATALOGUE
from giftcerts.api.idempotency import HEADER
from giftcerts.api.operations import OPERATIONS, Operation
from giftcerts.core import webhooks

_env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)


def _inline_markdown(text: str) -> Markup:
    """`code` and **bold** only, applied after escaping, so nothing else can become markup."""
    html = str(escape(text))
    html = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html)
    html = re.sub(r"`([^`]+)`", r"<code>\1</code>", html)
    return Markup(html)


_env.filters["md"] = _inline_markdown

TEMPLATE = _env.from_string("""{% macro fields_table(obj) %}
<table><tr><th>Field</th><th>Type</th><th>Description</th></tr>
{% for f in obj.fields %}<tr><td><code>{{ f.name }}</code>{% if f.required %} <span class="req">required</span>{% endif %}</td>
<td>{% if f.link %}<a href="#obj-{{ f.link }}">{{ f.type }}</a>{% else %}{{ f.type }}{% endif %}</td>
<td>{{ f.description | md }}</td></tr>{% endfor %}
</table>
{% endmacro %}<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · reference</title>
<style>
  :root { --fg:#1d2327; --muted:#5b6770; --line:#dde3e7; --accent:#0d7a72; --bg:#f7f9fa; }
  * { box-sizing: border-box; }
  body { margin:0; font:15px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; color:var(--fg); }
  .layout { display:grid; grid-template-columns: 260px 1fr; min-height:100vh; }
  nav { background:var(--bg); border-right:1px solid var(--line); padding:20px; position:sticky; top:0;
        height:100vh; overflow:auto; }
  nav a { display:block; color:var(--fg); text-decoration:none; padding:3px 0; font-size:14px; }
  nav a:hover { color:var(--accent); }
  main { padding:24px 40px 80px; max-width:980px; }
  h1 { margin-top:0; } h2 { margin-top:48px; border-top:1px solid var(--line); padding-top:24px; }
  h3 { margin:20px 0 6px; font-size:15px; color:var(--muted); text-transform:uppercase; letter-spacing:.04em; }
  code, pre { font-family: ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; font-size:13px; }
  pre { background:#10191d; color:#e8f0f2; padding:14px 16px; border-radius:6px; overflow:auto; }
  table { border-collapse:collapse; width:100%; margin:6px 0 12px; }
  th, td { text-align:left; vertical-align:top; padding:6px 8px; border-bottom:1px solid var(--line); }
  th { font-size:13px; color:var(--muted); font-weight:600; }
  .method { display:inline-block; min-width:52px; text-align:center; font-weight:700; font-size:12px;
            padding:2px 6px; border-radius:4px; color:#fff; background:var(--accent); margin-right:8px; }
  .method.GET { background:#2f6fb3; }
  .path { font-family: ui-monospace,Menlo,monospace; font-size:16px; }
  .muted { color:var(--muted); } .req { color:#b3261e; font-size:12px; }
  @media (max-width: 800px) { .layout { display:block; } nav { position:static; height:auto; } main { padding:16px; } }
</style>
</head>
<body>
<div class="layout">
<nav aria-label="Endpoints">
  <strong>{{ title }}</strong>
  <a href="#overview">Overview</a>
  {% for op in operations %}
  <a href="#{{ op.name }}"><span class="muted">{{ op.method }}</span> {{ op.summary }}</a>
  {% endfor %}
  <a href="#webhooks">Webhooks</a>
  <a href="#errors">Error codes</a>
  <a href="#objects">Objects</a>
  <a href="{{ base }}/api/v1/openapi.json">openapi.json</a>
</nav>
<main>
<h1 id="overview">{{ title }}</h1>
<p class="muted">Version {{ version }} · base URL <code>{{ base }}</code> ·
   machine-readable: <a href="{{ base }}/api/v1/openapi.json">OpenAPI 3.1</a></p>
{% for paragraph in overview %}
<p>{{ paragraph | md }}</p>
{% endfor %}

{% for op in operations %}
<section id="{{ op.name }}">
  <h2><span class="method {{ op.method }}">{{ op.method }}</span><span class="path">{{ op.path }}</span></h2>
  <p><strong>{{ op.summary }}.</strong> {{ op.description | md }}</p>
  <h3>Headers</h3>
  <table><tr><th>Name</th><th>Description</th></tr>
  <tr><td><code>Authorization</code> <span class="req">required</span></td><td><code>Bearer gc_live_...</code>, a workspace API key.</td></tr>
  {% if op.method == "POST" %}<tr><td><code>{{ idempotency_header }}</code></td><td>Optional, up to 255 visible ASCII characters (a UUID is ideal). Retries with the same key and body get the first response again.</td></tr>{% endif %}
  </table>
  {% if op.path_params %}
  <h3>Path</h3>
  <table><tr><th>Name</th><th>Type</th><th>Description</th></tr>
  {% for p in op.path_params %}<tr><td><code>{{ p }}</code></td><td>integer</td><td>Id from an earlier response.</td></tr>{% endfor %}
  </table>
  {% endif %}
  {% if op.query %}
  <h3>Query</h3>
  {{ fields_table(op.query) }}
  {% endif %}
  {% if op.body %}
  <h3>Body <span class="muted">(JSON)</span></h3>
  {% if op.body.fields %}{{ fields_table(op.body) }}{% else %}<p class="muted">None (send no body or <code>{}</code>).</p>{% endif %}
  {% endif %}
  <h3>Response</h3>
  <p><code>{{ op.status }}</code> with <a href="#obj-{{ op.response }}">{{ op.response }}</a></p>
  <h3>Errors</h3>
  <table><tr><th>Status</th><th>Code</th><th>When</th></tr>
  {% for e in op.errors %}<tr><td>{{ e.status }}</td><td><code>{{ e.code }}</code></td><td>{{ e.meaning | md }}</td></tr>{% endfor %}
  </table>
  <h3>Example</h3>
  <pre>{{ op.curl }}</pre>
</section>
{% endfor %}

<h2 id="webhooks">Webhooks</h2>
<p>{{ webhook_description | md }}</p>
<p>Each event has a stable <code>id</code> (the same on every retry and for every endpoint); you may
receive an event twice, and events out of order (a <code>redemption.released</code> before the
<code>redemption.held</code> it undoes): record the ids you processed and read the object's current state
from the API when the order matters. Codes are masked in events.</p>
<table><tr><th>Event</th><th>When</th></tr>
{% for e in events %}<tr><td><code>{{ e.type }}</code></td><td>{{ e.summary }}</td></tr>{% endfor %}
</table>
<h3>Verifying the signature — Python</h3>
<pre>import hashlib, hmac, time

def verified(secret: str, raw_body: bytes, header: str) -> bool:
    fields = dict(part.split("=", 1) for part in header.split(","))
    signed = fields["t"].encode() + b"." + raw_body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields.get("v1", "")) and abs(time.time() - int(fields["t"])) &lt; 300</pre>
<h3>Verifying the signature — JavaScript (Node.js)</h3>
<pre>const crypto = require("crypto");

function verified(secret, rawBody, header) {
  const fields = Object.fromEntries(header.split(",").map((part) =&gt; part.split("=", 2)));
  const expected = crypto.createHmac("sha256", secret).update(`${fields.t}.${rawBody}`).digest("hex");
  const ok = fields.v1 &amp;&amp; expected.length === fields.v1.length &amp;&amp;
    crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(fields.v1));
  return ok &amp;&amp; Math.abs(Date.now() / 1000 - Number(fields.t)) &lt; 300;
}</pre>

<h2 id="errors">Error codes</h2>
<p>Every error is <code>{"error": {"code": "...", "message": "..."}}</code>; the message can be shown to your
customer as it is. <code>validation_error</code> adds <code>"fields": {"name": "problem"}</code>.</p>
<table><tr><th>Code</th><th>Status</th><th>Meaning</th></tr>
{% for e in catalogue %}<tr><td><code>{{ e.code }}</code></td><td>{{ e.status }}</td><td>{{ e.meaning | md }}</td></tr>{% endfor %}
</table>

<h2 id="objects">Objects</h2>
{% for obj in objects %}
<section id="obj-{{ obj.name }}">
  <h3>{{ obj.name }}</h3>
  {{ fields_table(obj) }}
</section>
{% endfor %}
</main>
</div>
</body>
</html>
""")



def _type(prop: dict) -> tuple[str, str | None]:
    """A readable type and, for objects, the name of the object it links to."""
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[-1]
        return name, name
    if "anyOf" in prop:
        parts = [_type(p) for p in prop["anyOf"]]
        return " or ".join(t for t, _ in parts), next((link for _, link in parts if link), None)
    if "enum" in prop:
        return " | ".join(json.dumps(v, ensure_ascii=False) for v in prop["enum"]), None
    if "const" in prop:
        return json.dumps(prop["const"]), None
    kind = prop.get("type", "any")
    if kind == "array":
        inner, link = _type(prop.get("items", {}))
        return f"list of {inner}", link
    if kind == "object":
        return "object", None
    if prop.get("format") == "date-time":
        return "string (ISO 8601 date-time, UTC)", None
    bounds = [f"{k} {prop[k]}" for k in ("minimum", "maximum", "maxLength") if k in prop]
    return kind + (f" ({', '.join(bounds)})" if bounds else ""), None


def _fields(schema: dict) -> list[dict]:
    required = set(schema.get("required", []))
    rows = []
    for name, prop in schema.get("properties", {}).items():
        type_text, link = _type(prop)
        description = prop.get("description", "")
        if "default" in prop and prop["default"] not in (None, ""):
            description = (description + f" Default: {json.dumps(prop['default'])}.").strip()
        rows.append({"name": name, "type": type_text, "link": link, "required": name in required,
                     "description": description})
    return rows


def _example(schema: dict) -> dict:
    body = {}
    for name, prop in schema.get("properties", {}).items():
        if prop.get("examples"):
            body[name] = prop["examples"][0]
        elif prop.get("default") not in (None, "") or name in schema.get("required", []):
            body[name] = prop.get("default", "...")
    return body


def _curl(op: Operation, base: str, body_schema: dict | None) -> str:
    path = op.path
    for name in op.path_params:
        path = path.replace("{" + name + "}", "1")
    lines = [f"curl -X {op.method} '{base}{path}'" if op.method != "GET" else f"curl '{base}{path}'",
             '  -H "Authorization: Bearer $GIFTCERTS_API_KEY"']
    if op.method == "POST":
        lines.append(f'  -H "{HEADER}: $(uuidgen)"')
    if body_schema is not None and body_schema.get("properties"):
        lines.append('  -H "Content-Type: application/json"')
        lines.append(f"  -d '{json.dumps(_example(body_schema), ensure_ascii=False)}'")
    return " \\\n".join(lines)


@lru_cache(maxsize=4)
def render(base: str | None = None) -> str:
    base = base or config.public_url()
    doc = openapi.document()
    defs = doc["components"]["schemas"]

    ops = []
    for op in OPERATIONS:
        body_schema = defs[op.body.__name__] if op.body is not None else None
        ops.append({
            "name": op.name, "method": op.method, "path": op.path, "summary": op.summary,
            "description": op.description, "path_params": op.path_params, "status": op.status,
            "response": op.response.__name__,
            "query": {"fields": _fields(op.query.model_json_schema())} if op.query else None,
            "body": {"fields": _fields(body_schema)} if body_schema is not None else None,
            "errors": sorted(({"code": c, "status": CATALOGUE[c][0], "meaning": CATALOGUE[c][1]}
                              for c in openapi.common_errors(op)), key=lambda e: e["status"]),
            "curl": _curl(op, base, body_schema),
        })
    responses = sorted({n for n in defs if n not in {op.body.__name__ for op in OPERATIONS if op.body}})
    return TEMPLATE.render(
        title=openapi.TITLE, version=openapi.VERSION, base=base, operations=ops, idempotency_header=HEADER,
        overview=[p.replace("\n", " ") for p in openapi.DESCRIPTION.strip().split("\n\n")],
        catalogue=[{"code": c, "status": s, "meaning": m} for c, (s, m) in CATALOGUE.items()],
        objects=[{"name": n, "fields": _fields(defs[n])} for n in responses],
        webhook_description=openapi.WEBHOOK_DESCRIPTION,
        events=[{"type": t, "summary": summary} for t, summary in webhooks.EVENTS.items()],
    )
