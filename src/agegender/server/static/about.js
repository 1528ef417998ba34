// The About tab: the models table (from /v1/models) and the API key.
"use strict";

import { $, api, apiKey, el, saveKey } from "./util.js";

let modelsLoaded = false;

export async function loadModels() {
  if (modelsLoaded) return;
  const status = $("#models-status");
  try {
    const data = await (await api("/v1/models")).json();
    const inUse = new Set(Object.values(data.in_use || {}));
    const tbody = $("#models tbody");
    tbody.replaceChildren();
    for (const m of data.models) {
      const name = el("td", {}, el("code", {}, m.name));
      if (inUse.has(m.name)) name.append(el("span", { className: "badge" }, "in use"));
      tbody.append(el("tr", {},
        name,
        el("td", {}, m.task),
        el("td", {}, m.license),
        el("td", { className: "src", title: m.source }, m.source),
        el("td", { className: m.available ? "yes" : "no" }, m.available ? "yes" : "no")));
    }
    status.textContent = `${data.models.length} models; "in use" marks the ones this server runs.`;
    modelsLoaded = true;
  } catch (err) {
    status.textContent = `Could not list the models: ${err.message}`;
  }
}

export function initKey() {
  const input = $("#api-key");
  const status = $("#key-status");
  input.value = apiKey();
  status.textContent = apiKey() ? "A key is saved in this browser." : "No key saved.";
  $("#key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    saveKey(input.value.trim());
    status.textContent = input.value.trim() ? "Saved in this browser." : "No key saved.";
    modelsLoaded = false;
    loadModels();
  });
  $("#key-clear").addEventListener("click", () => {
    saveKey("");
    input.value = "";
    status.textContent = "Cleared.";
  });
  $("#origin").textContent = location.origin;
}
