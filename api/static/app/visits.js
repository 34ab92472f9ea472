/* Visit registration (调研报备): a unit picks communities, dates, purpose and people; the
 * page checks how busy they are before registering, offers quieter communities and weeks for
 * a red one, and shows each community who is coming. */
"use strict";

(function () {
  const G = window.Gridgov;
  const T = G.T;
  if (!G.requireLogin()) return;

  const $ = (id) => document.getElementById(id);
  const COLOURS = { green: "#27ae60", yellow: "#f1c40f", red: "#c0392b" };
  const map = L.map("visits-map", { zoomSnap: 0.25 }); // the city fills the map
  G.addBackground(map, { level: "street" });
  const loadLayer = L.geoJSON(null, { style: styleOf, onEachFeature: bindFeature }).addTo(map);
  const names = {}; // community code -> name
  const chosen = new Set(); // community codes the visit goes to
  let mayRegister = false;
  let fitted = false;
  let lastCheck = null; // {key, red}: the form as last checked, and whether a place was red
  let heatSeq = 0;

  // -- dates -------------------------------------------------------------------------------

  function isoDay(date) {
    const local = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
    return local.toISOString().slice(0, 10);
  }

  function addDays(iso, days) {
    const d = new Date(iso + "T00:00:00");
    d.setDate(d.getDate() + days);
    return isoDay(d);
  }

  function daysBetween(first, last) {
    return Math.round((new Date(last + "T00:00:00") - new Date(first + "T00:00:00")) / 86400000);
  }

  const today = isoDay(new Date());
  $("v-start").value = addDays(today, 1);
  $("v-end").value = addDays(today, 1);
  $("v-start").min = today;
  $("v-end").min = today;
  $("heat-month").value = today.slice(0, 7);

  // -- the heat map ------------------------------------------------------------------------

  function styleOf(feature) {
    const p = feature.properties;
    const picked = chosen.has(p.code);
    return {
      color: picked ? "#1f618d" : "#5d6d7e",
      weight: picked ? 4 : 1,
      fillColor: COLOURS[p.level] || "#ffffff",
      fillOpacity: p.units ? 0.55 : 0.15,
    };
  }

  function bindFeature(feature, layer) {
    const p = feature.properties;
    layer.bindTooltip(() => T("web.visits.units", { name: G.esc(p.name), units: p.units }), { sticky: true });
    layer.on("click", () => {
      if (mayRegister) toggle(p.code);
      showComing(p.code);
    });
  }

  async function loadHeat() {
    const month = $("heat-month").value;
    if (!month) return;
    const seq = ++heatSeq;
    try {
      const fc = await G.api("/api/v1/map/visits?" + G.query({ month: month }));
      if (seq !== heatSeq) return; // a newer month was asked for meanwhile
      loadLayer.clearLayers();
      loadLayer.addData(fc);
      for (const f of fc.features) names[f.properties.code] = f.properties.name;
      showLegend(fc.thresholds);
      if (!fitted && fc.features.length) {
        map.fitBounds(loadLayer.getBounds());
        fitted = true;
        fillLists();
      }
      document.body.dataset.heatMonth = fc.month; // the month shown (for the tests)
    } catch (e) {
      showError(e.message);
    }
  }

  function showLegend(t) {
    const swatch = (level, text) =>
      '<span class="swatch level-' + level + '"></span>' + G.esc(text);
    $("heat-legend").innerHTML = [
      swatch("green", T("web.visits.legend_green", { max: t.yellow_above })),
      swatch("yellow", T("web.visits.legend_yellow", { min: t.yellow_above + 1, max: t.red_above })),
      swatch("red", T("web.visits.legend_red", { max: t.red_above })),
    ].join(" ");
  }

  $("heat-month").addEventListener("change", loadHeat);

  // -- the places --------------------------------------------------------------------------

  function fillLists() {
    const codes = Object.keys(names).sort();
    const list = $("v-list");
    const select = $("c-community");
    for (const code of codes) {
      const item = document.createElement("li");
      item.dataset.code = code;
      item.dataset.search = (names[code] + " " + code).toLowerCase();
      const label = document.createElement("label");
      label.className = "check";
      const box = document.createElement("input");
      box.type = "checkbox";
      box.value = code;
      box.addEventListener("change", () => toggle(code, box.checked));
      label.append(box, document.createTextNode(names[code] + " " + code));
      item.appendChild(label);
      list.appendChild(item);
      select.add(new Option(names[code], code));
    }
    if ($("c-community").dataset.wanted) $("c-community").value = $("c-community").dataset.wanted;
  }

  $("v-search").addEventListener("input", () => {
    const wanted = $("v-search").value.trim().toLowerCase();
    for (const item of $("v-list").children) item.hidden = wanted !== "" && !item.dataset.search.includes(wanted);
  });

  /** Add or take away a community (flip it without ``on``). */
  function toggle(code, on) {
    const add = on === undefined ? !chosen.has(code) : on;
    if (add) chosen.add(code);
    else chosen.delete(code);
    showChosen();
  }

  function showChosen() {
    const list = Array.from(chosen);
    $("v-chosen").textContent = list.length
      ? T("web.visits.chosen", { names: list.map((c) => names[c] || c).join(T("web.separator.list")) })
      : T("web.visits.none_chosen");
    for (const box of $("v-list").querySelectorAll("input")) box.checked = chosen.has(box.value);
    loadLayer.setStyle(styleOf);
  }

  // -- check, switch, register -------------------------------------------------------------

  function body() {
    return {
      unit: $("v-unit").value.trim(),
      purpose: $("v-purpose").value.trim(),
      people: $("v-people").value.split(/[,，、;；\s]+/).filter((p) => p),
      starts_on: $("v-start").value,
      ends_on: $("v-end").value,
      communities: Array.from(chosen),
    };
  }

  function showError(message) {
    $("v-error").textContent = message;
    $("v-error").hidden = !message;
  }

  async function check() {
    const visit = body();
    $("v-check").innerHTML = '<p class="hint">' + T("web.visits.checking") + "</p>";
    const answer = await G.api("/api/v1/visits/check", { method: "POST", json: visit });
    const red = answer.loads.some((l) => l.level === "red");
    lastCheck = { key: JSON.stringify(visit), red: red };
    showLoads(answer.loads, true);
    $("v-submit").textContent = T(red ? "web.visits.submit_anyway" : "web.visits.submit");
    return red;
  }

  function showLoads(loads, offerSwitches) {
    const box = $("v-check");
    box.innerHTML = "";
    for (const load of loads) {
      const part = document.createElement("div");
      part.className = "load level-" + load.level;
      part.dataset.community = load.community;
      part.dataset.level = load.level;
      part.innerHTML = '<p class="warning">' + G.esc(load.warning) + "</p>";
      if (load.level === "red" && offerSwitches) part.appendChild(alternatives(load));
      box.appendChild(part);
    }
    if (offerSwitches && loads.some((l) => l.level === "red")) {
      box.insertAdjacentHTML("beforeend", '<p class="hint">' + T("web.visits.red_hint") + "</p>");
    }
  }

  function alternatives(load) {
    const out = document.createElement("div");
    out.className = "alternatives";
    out.insertAdjacentHTML("beforeend", "<h3>" + T("web.visits.quieter_communities") + "</h3>");
    if (!load.quieter_communities.length) out.insertAdjacentHTML("beforeend", '<p class="hint">' + T("web.visits.no_alternative") + "</p>");
    for (const c of load.quieter_communities) {
      const label = T("web.visits.switch_community", {
        name: c.name,
        distance: G.formatDistance(c.distance_m),
        units: c.units,
      });
      out.appendChild(switchButton("switch-community", c.code, label, () => switchCommunity(load.community, c.code)));
    }
    out.insertAdjacentHTML("beforeend", "<h3>" + T("web.visits.quieter_weeks") + "</h3>");
    for (const w of load.quieter_weeks) {
      const first = w.week_of < today ? today : w.week_of;
      const label = T("web.visits.switch_week", { from: first, to: addDays(w.week_of, 6), units: w.units });
      out.appendChild(switchButton("switch-week", w.week_of, label, () => switchWeek(first)));
    }
    return out;
  }

  function switchButton(kind, value, label, action) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "link " + kind;
    button.dataset.value = value;
    button.textContent = label;
    button.addEventListener("click", async () => {
      action();
      await recheck();
    });
    return button;
  }

  function switchCommunity(from, to) {
    chosen.delete(from);
    chosen.add(to);
    showChosen();
  }

  function switchWeek(first) {
    const length = Math.max(0, daysBetween($("v-start").value, $("v-end").value));
    $("v-start").value = first;
    $("v-end").value = addDays(first, length);
    followMonth();
  }

  async function recheck() {
    showError("");
    try {
      await check();
    } catch (e) {
      showError(e.message);
    }
  }

  async function register() {
    const visit = body();
    const made = await G.api("/api/v1/visits", { method: "POST", json: visit });
    lastCheck = null;
    $("v-submit").textContent = T("web.visits.submit");
    showLoads(made.loads, false);
    $("v-result").className = "ok";
    $("v-result").textContent = T("web.visits.registered", { id: made.id });
    loadHeat();
    const shown = $("c-community").value;
    if (shown && visit.communities.includes(shown)) showComing(shown);
    else showComing(visit.communities[0]);
  }

  $("visit-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    showError("");
    $("v-result").textContent = "";
    if (!chosen.size) return showError(T("web.visits.need_place"));
    const button = $("v-submit");
    button.disabled = true;
    try {
      // The load is checked first: a red place is shown with its alternatives, and only a
      // second press on the same form registers it there.
      const checked = lastCheck && lastCheck.key === JSON.stringify(body());
      if (!checked && (await check())) return;
      await register();
    } catch (e) {
      showError(e.message);
    } finally {
      button.disabled = false;
    }
  });

  function followMonth() {
    const month = $("v-start").value.slice(0, 7);
    if (month && month !== $("heat-month").value) {
      $("heat-month").value = month;
      loadHeat();
    }
  }

  $("v-start").addEventListener("change", () => {
    if ($("v-end").value < $("v-start").value) $("v-end").value = $("v-start").value;
    followMonth();
  });

  // -- who is coming -----------------------------------------------------------------------

  async function showComing(code) {
    const params = code ? { community: code } : {};
    try {
      const answer = await G.api("/api/v1/visits/coming?" + G.query(params));
      const select = $("c-community");
      select.dataset.wanted = answer.community;
      select.value = answer.community;
      const list = $("c-list");
      list.innerHTML = "";
      list.dataset.community = answer.community;
      $("c-note").textContent = answer.visits.length ? "" : T("web.visits.coming_none", { weeks: answer.weeks });
      for (const v of answer.visits) {
        const item = document.createElement("li");
        item.dataset.visit = v.id;
        item.innerHTML =
          "<b>" + G.esc(v.unit) + "</b> <time>" + T("web.visits.dates", { from: v.starts_on, to: v.ends_on }) + "</time>" +
          '<br><span class="purpose">' + G.esc(v.purpose) + "</span>" +
          (v.people.length ? '<br><span class="hint">' + G.esc(v.people.join(T("web.separator.list"))) + "</span>" : "");
        list.appendChild(item);
      }
    } catch (e) {
      // No community of one's own (an operator, a department): the list waits for a choice.
      $("c-note").textContent = code ? e.message : T("web.visits.choose_community");
    }
  }

  $("c-community").addEventListener("change", () => {
    if ($("c-community").value) showComing($("c-community").value);
  });

  // -- start -------------------------------------------------------------------------------

  async function start() {
    let me;
    try {
      me = await G.api("/api/v1/auth/me");
    } catch (e) {
      me = G.user() || {};
    }
    mayRegister = (me.may || []).includes("register_visit");
    $("visit-form").hidden = !mayRegister;
    showChosen();
    await loadHeat();
    // A grid head's, a community worker's or a community operator's own community first.
    if (me.grid_code || me.department_code || names[me.area_code]) await showComing(null);
    else $("c-note").textContent = T("web.visits.choose_community");
    document.body.dataset.ready = "1";
  }

  start();
})();
