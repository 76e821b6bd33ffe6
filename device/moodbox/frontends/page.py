"""The phone page: its HTML and script, and the status block's one renderer (the script redraws it with the same
markup). :mod:`moodbox.frontends.web` serves it.
"""

from __future__ import annotations

import html
import json

from moodbox.frontends.history import clock_text
from moodbox.names import ACTION_INFO

FACE_TEXT = {True: "in view", False: "not in view", None: "unknown (camera off)"}


def script_json(value) -> str:
    return json.dumps(value).replace("<", "\\u003c")  # no "</script>" from a song title can end the script


def render_status(status: dict) -> str:
    """The status block as HTML (the page's first paint; the script redraws it with the same markup)."""
    if not status.get("ok"):
        return f'<p id=mood class=problem>{html.escape(status.get("error", "no answer"))}</p>'
    esc = lambda value: html.escape(str(value if value is not None else "-"))  # noqa: E731
    confidence = f" {status['mood_confidence']:.0%}" if status.get("mood") and status.get("mood_confidence") else ""
    seen = " · ".join(f"{esc(label)} {p:.0%}" for label, p in (status.get("expressions") or {}).items()) or "-"
    problems = "; ".join(status.get("problems") or []) or "none"
    return (f'<p id=mood class="mood {esc(status.get("mood"))}">{esc(status.get("mood") or "not known yet")}'
            f'{confidence}</p>'
            f'<p id=face>face {FACE_TEXT[status.get("face_in_view")]} · sees {seen}</p>'
            f'<p id=song><b>{esc(status.get("playlist"))}</b>: {esc(status.get("now_playing"))}</p>'
            f'<p id=progress>{clock_text(status.get("elapsed_s"))} / {clock_text(status.get("duration_s"))} · '
            f'{esc(status.get("state"))} · volume {esc(status.get("volume"))}'
            f'{" · held" if status.get("held_for_s") else ""}</p>'
            f'<p id=box>{esc(status.get("status"))} · camera {esc(status.get("camera"))} · '
            f'MPD {esc(status.get("mpd"))} · problems: {esc(problems)}</p>')


PAGE = """<!doctype html>
<html lang=en><head><meta charset=utf-8><meta name=viewport content="width=device-width, initial-scale=1">
<meta name=referrer content=no-referrer><title>moodbox</title>
<style>
body { font-family: sans-serif; margin: 0 auto; max-width: 42rem; padding: .5rem; background: #fafafa; color: #222 }
h1 { font-size: 1.1rem; margin: .2rem 0 } p { margin: .3rem 0 } .problem { color: #b00 }
.mood { font-size: 2rem; font-weight: bold; margin: .2rem 0 }
.happy { color: #c99400 } .sad { color: #1f77b4 } .angry { color: #d62728 } .neutral { color: #555 }
.fear { color: #9467bd } .surprise { color: #e377c2 } .disgust { color: #8c564b }
#buttons { display: grid; grid-template-columns: repeat(3, 1fr); gap: .4rem; margin: .6rem 0 }
button { font-size: 1.1rem; padding: .7rem 0; border-radius: .5rem; border: 1px solid #999; background: #fff }
#chart svg { width: 100%; height: auto } #message { min-height: 1.2rem; font-style: italic }
</style></head>
<body><h1>moodbox</h1>
<div id=status>{status}</div>
<div id=buttons>
{buttons}</div>
<p id=message></p>
<h1>Last 24 hours</h1><div id=chart>{chart}</div>
<script nonce="{nonce}">
"use strict";
const params = new URLSearchParams(location.search);
const token = params.get("token") || sessionStorage.getItem("moodbox-token");
if (params.get("token")) {  // keep it for this tab only, and out of the address bar
  sessionStorage.setItem("moodbox-token", token);
  history.replaceState(null, "", "/");
}
const headers = {"X-Moodbox-Token": token};
const text = (value) => (value === null || value === undefined) ? "-" : String(value);
const percent = (p) => Math.round(p * 100) + "%";
const clock = (s) => (s === null || s === undefined) ? "-:--"
  : Math.floor(s / 60) + ":" + String(Math.floor(s % 60)).padStart(2, "0");
const line = (id, content, className) =>
  Object.assign(document.createElement("p"), {id: id, textContent: content, className: className || ""});
function show(s) {  // the same lines as the server's first paint
  const box = document.getElementById("status");
  if (!s.ok) { box.replaceChildren(line("mood", text(s.error), "problem")); return; }
  const seen = Object.entries(s.expressions || {}).map(([k, p]) => k + " " + percent(p)).join(" · ") || "-";
  const confidence = s.mood && s.mood_confidence ? " " + percent(s.mood_confidence) : "";
  box.replaceChildren(
    line("mood", (s.mood || "not known yet") + confidence, "mood " + text(s.mood)),
    line("face", "face " + ({true: "in view", false: "not in view"}[s.face_in_view] ?? "unknown (camera off)")
      + " · sees " + seen),
    line("song", text(s.playlist) + ": " + text(s.now_playing)),
    line("progress", clock(s.elapsed_s) + " / " + clock(s.duration_s) + " · " + text(s.state)
      + " · volume " + text(s.volume) + (s.held_for_s ? " · held" : "")),
    line("box", text(s.status) + " · camera " + text(s.camera) + " · MPD " + text(s.mpd)
      + " · problems: " + ((s.problems || []).join("; ") || "none")));
}
async function refresh() {
  try { show(await (await fetch("/api/status", {headers})).json()); } catch (e) { /* next time */ }
}
async function chart() {
  try {
    const answer = await fetch("/api/history.svg", {headers});
    if (answer.ok) document.getElementById("chart").innerHTML = await answer.text();
  } catch (e) { /* next time */ }
}
for (const button of document.querySelectorAll("button[data-action]")) {
  button.addEventListener("click", async () => {
    const answer = await (await fetch("/api/" + button.dataset.action, {method: "POST", headers})).json();
    document.getElementById("message").textContent =
      button.dataset.action + ": " + (answer.ok ? "done" : answer.error);
    refresh();
  });
}
show({status_json});
document.body.dataset.live = "yes";  // the script ran: the page refreshes itself from here on
setInterval(refresh, 2000);
setInterval(chart, 60000);
</script></body></html>
"""
PAGE = PAGE.replace("{buttons}", "".join(f"<button data-action={info.name}>{html.escape(info.button)}</button>"
                                         for info in ACTION_INFO.values() if info.button))
