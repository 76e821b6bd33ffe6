"use strict";
// The phone page's script: refreshes what the server painted from /api/status (whose "view" says every line and
// button label), draws the Music view from /api/insights. Text goes into the page only as textContent.
const $ = (id) => document.getElementById(id);
const element = (tag, text, attributes) => {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, value);
  return node;
};
const post = (path, body) => fetch(path, {method: "POST", headers: {"Content-Type": "application/json"},
                                          body: JSON.stringify(body || {}), credentials: "same-origin"});
let nowPlaying;

function show(answer) {
  const view = answer.view;
  if (!view) return;
  const mood = $("mood");
  mood.textContent = view.mood;
  mood.className = view.mood_class;
  for (const id of ["face", "song", "progress", "box"]) $(id).textContent = view[id];
  for (const button of document.querySelectorAll("#buttons button")) {
    const state = view.buttons[button.dataset.action] || {label: button.dataset.action, disabled: true};
    button.textContent = state.label;
    button.disabled = state.disabled;
    button.setAttribute("aria-pressed", state.pressed ? "true" : "false");
  }
  if (answer.now_playing !== nowPlaying) {
    nowPlaying = answer.now_playing;
    upcoming();
  }
}

async function refresh() {
  try {
    const answer = await fetch("/api/status");
    if (answer.status === 401) { location.reload(); return; }  // unpaired meanwhile: the page says how to pair
    show(await answer.json());
  } catch (e) { /* the box is restarting: next time */ }
}

async function upcoming() {
  try {
    const answer = await (await fetch("/api/upcoming")).json();
    const items = (answer.upcoming || []).map((title) => element("li", title, {dir: "auto"}));
    $("upcoming").replaceChildren(...(items.length ? items : [element("li", "nothing queued")]));
  } catch (e) { /* next time */ }
}

for (const button of document.querySelectorAll("#buttons button")) {
  button.addEventListener("click", async () => {
    let text;
    try {
      const answer = await (await post("/api/" + button.dataset.action)).json();
      text = answer.ok ? button.textContent + ": done" : answer.error;
    } catch (e) {
      text = "The box did not answer: try again.";
    }
    $("message").textContent = text;
    refresh();
  });
}

function chart(since) {
  for (const button of document.querySelectorAll("#ranges button")) {
    button.setAttribute("aria-pressed", button.dataset.since === since ? "true" : "false");
  }
  $("chart").src = "/api/history.svg?since=" + encodeURIComponent(since) + "&t=" + Date.now();
}
for (const button of document.querySelectorAll("#ranges button")) {
  button.addEventListener("click", () => chart(button.dataset.since));
}

async function music() {
  const box = $("moods");
  let answer;
  try {
    answer = await (await fetch("/api/insights")).json();
  } catch (e) {
    box.replaceChildren(element("p", "The box did not answer: try again.", {class: "problem"}));
    return;
  }
  if (!answer.ok) { box.replaceChildren(element("p", answer.error, {class: "problem"})); return; }
  const sections = [];
  for (const [mood, rows] of Object.entries(answer.moods || {})) {
    const section = element("section", undefined, {"data-mood": mood});
    section.append(element("h2", mood));
    for (const row of rows) {
      const card = element("div", undefined, {class: "playlist"});
      const name = element("p", undefined, {dir: "auto"});
      name.append(element("b", row.playlist), (row.mapped ? "" : " (learned)") + " · liked "
                  + Math.round(row.preference * 100) + "% ± " + Math.round(row.uncertainty * 100));
      card.append(name, element("p", `${row.likes} likes, ${row.holds} holds, ${row.full_plays} played to the `
                                     + `end, ${row.early_skips + row.late_skips} skips`, {class: "evidence"}));
      const choices = element("div", undefined, {class: "choice"});
      for (const choice of ["pin", "exclude", "auto"]) {
        const pressed = (row.choice || "auto") === choice;
        const button = element("button", choice[0].toUpperCase() + choice.slice(1),
                               {"aria-pressed": pressed ? "true" : "false", "data-choice": choice});
        button.addEventListener("click", async () => {
          const result = await (await post("/api/choose", {mood, playlist: row.playlist, choice})).json();
          $("music-message").textContent = result.ok ? "" : result.error;
          music();
        });
        choices.append(button);
      }
      card.append(choices);
      section.append(card);
    }
    const parts = (answer.parts_of_day || {})[mood] || {};
    if (Object.keys(parts).length) {  // what the box learned in each part of the day (from that part's feedback)
      const list = element("ul", undefined, {class: "parts"});
      for (const [part, rows] of Object.entries(parts)) {
        list.append(element("li", `${part}: ` + rows.map((row) => `${row.playlist} liked `
                                    + `${Math.round(row.preference * 100)}% (${row.events} events)`).join(", "),
                            {dir: "auto", "data-part": part}));
      }
      section.append(element("h3", "By part of the day"), list);
    }
    sections.push(section);
  }
  box.replaceChildren(...sections);
}

for (const tab of document.querySelectorAll("nav button")) {
  tab.addEventListener("click", () => {
    for (const other of document.querySelectorAll("nav button")) {
      other.setAttribute("aria-pressed", other === tab ? "true" : "false");
      $(other.dataset.view).hidden = other !== tab;
    }
    if (tab.dataset.view === "music") music();
  });
}

refresh();
document.body.dataset.live = "yes";  // the script ran: the page refreshes itself from here on
setInterval(refresh, 2000);
setInterval(() => chart(document.querySelector("#ranges [aria-pressed=true]").dataset.since), 60000);
