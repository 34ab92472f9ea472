/* The grid head's doorstep visits (入户走访): the grid's houses as a list and on the map; a
 * house opens its households with members and tags already filled in; each fact is
 * confirmed with one tap (✓) or corrected (✎). A visit is written to the phone's outbox
 * first (the report page's, kind "doorstep") with its time and the phone's position, and
 * sent from there once, with its own id, when the network allows.
 * The residents' data is kept in this page only, never stored on the phone. */
"use strict";

(function () {
  const G = window.Gridgov;
  const T = G.T;
  const KIND = "doorstep";
  const TAG_KINDS = "gridgov.tags." + G.config.lang; // configuration, no person in it
  const RETRY_MS = 10000;
  const PERSON_FIELDS = ["name", "sex", "birth_date", "phone", "relation"];
  const CHOICES = {
    sex: ["male", "female"],
    relation: ["head", "spouse", "child", "parent", "grandchild", "other"],
    use: ["residential", "shop", "mixed", "office", "other"],
    tenure: ["owned", "rented", "vacant"],
  };
  if (!G.requireLogin()) return;
  G.keepOffline(); // the page opens without a network; its visits wait in the outbox

  const $ = (id) => document.getElementById(id);
  const me = G.user();
  const grid = me && me.grid_code;
  let houses = []; // {id, code, address, building, unit, room, use, tenure, lon, lat, households: []}
  let tagKinds = {}; // key -> {name, details}
  let position = null; // {lon, lat, accuracy_m}
  let open = null; // the house shown
  const drafts = new Map(); // household id (or "house:ID") -> {confirmed: Set, corrected: Map}
  const saved = new Set(); // households with a visit written on this phone or sent
  let signedOut = false;
  let lastFailure = null;
  const failed = new Map();
  const reasons = new Map();

  function refuse(message) {
    $("doorstep-error").textContent = message;
    $("doorstep-error").hidden = !message;
  }

  // -- where the phone is ----------------------------------------------------------------

  const map = L.map("doorstep-map", { attributionControl: false }).setView([0, 0], 2);
  G.addBackground(map, { level: "community" });
  const markers = L.layerGroup().addTo(map);
  const here = L.circleMarker([0, 0], { radius: 6, color: "#1f618d", fillOpacity: 0.9 });

  if (navigator.geolocation) {
    navigator.geolocation.watchPosition(
      (fix) => {
        position = { lon: fix.coords.longitude, lat: fix.coords.latitude, accuracy_m: fix.coords.accuracy };
        here.setLatLng([position.lat, position.lon]).addTo(map);
        $("position-info").textContent = T("web.doorstep.position", { metres: Math.round(position.accuracy_m || 0) });
      },
      () => ($("position-info").textContent = T("web.doorstep.no_position")),
      { enableHighAccuracy: true, maximumAge: 10000, timeout: 20000 }
    );
  } else {
    $("position-info").textContent = T("web.doorstep.no_position");
  }

  // -- the grid's houses and households ----------------------------------------------------

  async function loadTagKinds() {
    try {
      const kinds = await G.api("/api/v1/register/tags", { background: true });
      localStorage.setItem(TAG_KINDS, JSON.stringify(kinds));
      return kinds;
    } catch (e) {
      return JSON.parse(localStorage.getItem(TAG_KINDS) || "[]"); // offline: the last list
    }
  }

  async function load() {
    if (!grid) {
      $("houses-title").textContent = T("web.doorstep.no_grid");
      return;
    }
    try {
      const q = G.query({ grid: grid });
      const [places, homes, kinds] = await Promise.all([
        G.api("/api/v1/register/houses?" + q),
        G.api("/api/v1/register/households?" + q),
        loadTagKinds(),
      ]);
      tagKinds = Object.fromEntries(kinds.map((k) => [k.key, k]));
      const byCode = new Map(places.map((h) => [h.code, Object.assign(h, { households: [] })]));
      for (const home of homes) {
        const house = byCode.get(home.house_code);
        if (house) house.households.push(home);
      }
      houses = places;
      houses.sort((a, b) => label(a).localeCompare(label(b), "zh"));
    } catch (e) {
      $("houses-title").textContent = T("web.doorstep.load_failed", { reason: e.message });
      return;
    }
    $("grid-name").textContent = grid;
    showHouses();
    showMap();
    loadConflicts();
    loadTiers();
  }

  function label(house) {
    const parts = [house.address];
    if (house.building) parts.push(T("web.doorstep.building", { value: house.building }));
    if (house.unit) parts.push(T("web.doorstep.unit", { value: house.unit }));
    if (house.room) parts.push(T("web.doorstep.room", { value: house.room }));
    return parts.join(" ");
  }

  function showHouses() {
    const words = $("house-search").value.trim();
    const found = houses.filter((h) => !words || label(h).includes(words));
    $("houses-title").textContent = T("web.doorstep.houses", { count: found.length });
    const list = $("house-list");
    list.innerHTML = "";
    for (const house of found) {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.house = house.code;
      const done = house.households.length && house.households.every((h) => saved.has(h.id));
      button.innerHTML =
        G.esc(label(house)) + ' <span class="hint">' + T("web.doorstep.households", { count: house.households.length }) +
        "</span>" + (done ? ' <span class="visited">' + T("web.doorstep.visited") + "</span>" : "");
      button.addEventListener("click", () => showHouse(house));
      item.appendChild(button);
      list.appendChild(item);
    }
  }

  function showMap() {
    markers.clearLayers();
    const points = [];
    for (const house of houses) {
      if (house.lat === null || house.lon === null) continue;
      const visited = house.households.length && house.households.every((h) => saved.has(h.id));
      const marker = L.circleMarker([house.lat, house.lon], {
        radius: 7,
        color: visited ? "#1e8449" : "#a93226",
        fillOpacity: 0.7,
      });
      marker.bindTooltip(label(house));
      marker.on("click", () => showHouse(house));
      marker.addTo(markers);
      points.push([house.lat, house.lon]);
    }
    if (points.length) map.fitBounds(L.latLngBounds(points).pad(0.3), { maxZoom: 18 });
  }

  $("house-search").addEventListener("input", showHouses);

  // -- one house ----------------------------------------------------------------------------

  function draft(id) {
    if (!drafts.has(id)) drafts.set(id, { confirmed: new Set(), corrected: new Map() });
    return drafts.get(id);
  }

  function shown(field, value) {
    if (value === null || value === undefined || value === "") return "—";
    if (CHOICES[field]) return T("web.doorstep." + field + "." + value);
    return String(value);
  }

  /** The ✓ that confirms a fact as it is (a second tap takes it back). */
  function confirmButton(state, fact) {
    const ok = document.createElement("button");
    ok.type = "button";
    ok.className = "confirm";
    ok.textContent = "✓";
    ok.title = T("web.doorstep.confirm");
    ok.setAttribute("aria-pressed", String(state.confirmed.has(fact)));
    ok.addEventListener("click", () => {
      state.corrected.delete(fact);
      if (state.confirmed.has(fact)) state.confirmed.delete(fact);
      else state.confirmed.add(fact);
      showHouse(open);
    });
    return ok;
  }

  /** One fact: its label and value, ✓ to confirm it, ✎ to correct it. */
  function factRow(owner, fact, field, value, labelText) {
    const item = document.createElement("li");
    item.className = "fact";
    item.dataset.fact = fact;
    const state = draft(owner);
    const correction = state.corrected.get(fact);
    const text = correction ? correction.shown : shown(field, value);
    item.innerHTML =
      '<span class="label">' + G.esc(labelText) + '</span><span class="value">' + G.esc(text) + "</span>";
    if (correction) item.classList.add("corrected");
    const ok = confirmButton(state, fact);
    const edit = document.createElement("button");
    edit.type = "button";
    edit.className = "correct";
    edit.textContent = "✎";
    edit.title = T("web.doorstep.correct");
    edit.addEventListener("click", () => editor(item, owner, fact, field, value));
    item.append(ok, edit);
    return item;
  }

  function editor(item, owner, fact, field, value) {
    const form = document.createElement("form");
    form.className = "editor";
    let input;
    if (CHOICES[field]) {
      input = document.createElement("select");
      for (const choice of CHOICES[field]) {
        const option = document.createElement("option");
        option.value = choice;
        option.textContent = shown(field, choice);
        option.selected = choice === value;
        input.appendChild(option);
      }
    } else {
      input = document.createElement("input");
      input.type = field === "birth_date" ? "date" : field === "phone" ? "tel" : "text";
      input.value = value || "";
    }
    input.name = "value";
    input.setAttribute("aria-label", T("web.doorstep.new_value"));
    const apply = document.createElement("button");
    apply.type = "submit";
    apply.className = "primary";
    apply.textContent = T("web.doorstep.apply");
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.textContent = T("web.doorstep.cancel");
    cancel.addEventListener("click", () => showHouse(open));
    form.append(input, apply, cancel);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const given = input.value.trim();
      if (!given) return;
      const [entity, id] = fact.split(":");
      const state = draft(owner);
      state.confirmed.delete(fact);
      state.corrected.set(fact, { entity: entity, id: Number(id), field: field, value: given, shown: shown(field, given) });
      showHouse(open);
    });
    item.appendChild(form);
    input.focus();
  }

  /** The phone's date, ``days`` from today, as YYYY-MM-DD. */
  function today(days) {
    const now = new Date(Date.now() + (days || 0) * 86400000);
    return new Date(now.getTime() - now.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
  }

  /** A tag's valid_to is the last day it holds (a tag ended on a visit: the day before). */
  function ended(tag) {
    return Boolean(tag.valid_to && tag.valid_to < today());
  }

  function tagText(tag) {
    const kind = tagKinds[tag.tag];
    const details = Object.entries(tag.details || {}).map(([k, v]) => v);
    return (kind ? kind.name : tag.tag) + (details.length ? " (" + details.join(", ") + ")" : "");
  }

  function tagRows(owner, member) {
    const list = document.createElement("ul");
    list.className = "fact-list tags";
    const state = draft(owner);
    for (const tag of member.tags) {
      const fact = "tag:" + member.id + ":" + tag.tag;
      const item = document.createElement("li");
      item.className = "fact tag";
      item.dataset.fact = fact;
      const over = ended(tag);
      const ending = state.corrected.get(fact);
      item.innerHTML =
        '<span class="label">' + T("web.doorstep.tag") + '</span><span class="value">' + G.esc(tagText(tag)) +
        (over ? " · " + T("web.doorstep.tag_ended", { date: tag.valid_to }) : "") +
        (ending ? " · " + G.esc(ending.shown) : "") + "</span>";
      if (ending) item.classList.add("corrected");
      if (!over) {
        const ok = confirmButton(state, fact);
        const end = document.createElement("button");
        end.type = "button";
        end.className = "end-tag";
        end.textContent = T("web.doorstep.tag_end");
        end.addEventListener("click", () => {
          state.confirmed.delete(fact);
          state.corrected.set(fact, { entity: "tag", id: member.id, field: tag.tag, value: null, shown: T("web.doorstep.tag_ending") });
          showHouse(open);
        });
        item.append(ok, end);
      }
      list.appendChild(item);
    }
    for (const [fact, c] of state.corrected) {
      if (c.entity !== "tag" || c.id !== member.id || c.value === null) continue;
      if (member.tags.some((t) => t.tag === c.field && !ended(t))) continue;
      const item = document.createElement("li");
      item.className = "fact tag corrected";
      item.dataset.fact = fact;
      item.innerHTML = '<span class="label">' + T("web.doorstep.tag") + '</span><span class="value">+ ' + G.esc(c.shown) + "</span>";
      list.appendChild(item);
    }
    list.appendChild(addTag(owner, member));
    return list;
  }

  function addTag(owner, member) {
    const item = document.createElement("li");
    item.className = "add-tag";
    const select = document.createElement("select");
    select.className = "tag-choice";
    select.setAttribute("aria-label", T("web.doorstep.tag_add"));
    select.innerHTML = '<option value="">' + G.esc(T("web.doorstep.tag_add")) + "</option>";
    const held = new Set(member.tags.filter((t) => !ended(t)).map((t) => t.tag));
    for (const kind of Object.values(tagKinds)) {
      if (held.has(kind.key)) continue;
      const option = document.createElement("option");
      option.value = kind.key;
      option.textContent = kind.name;
      select.appendChild(option);
    }
    const details = document.createElement("span");
    details.className = "details";
    const add = document.createElement("button");
    add.type = "button";
    add.className = "add";
    add.textContent = T("web.doorstep.apply");
    add.hidden = true;
    select.addEventListener("change", () => {
      details.innerHTML = "";
      const kind = tagKinds[select.value];
      add.hidden = !kind;
      for (const name of kind ? kind.details : []) {
        const input = document.createElement("input");
        input.name = name;
        input.placeholder = T("web.doorstep.detail." + name);
        input.setAttribute("aria-label", T("web.doorstep.detail." + name));
        details.appendChild(input);
      }
    });
    add.addEventListener("click", () => {
      const kind = tagKinds[select.value];
      if (!kind) return;
      const given = {};
      for (const input of details.querySelectorAll("input")) if (input.value.trim()) given[input.name] = input.value.trim();
      const fact = "tag:" + member.id + ":" + kind.key;
      const state = draft(owner);
      state.confirmed.delete(fact);
      state.corrected.set(fact, { entity: "tag", id: member.id, field: kind.key, value: given, shown: tagText({ tag: kind.key, details: given }) });
      showHouse(open);
    });
    item.append(select, details, add);
    return item;
  }

  function showHouse(house) {
    open = house;
    $("houses-view").hidden = true;
    $("house-view").hidden = false;
    $("house-address").textContent = label(house);
    const facts = $("house-facts");
    facts.innerHTML = "";
    for (const field of ["use", "tenure"]) {
      facts.appendChild(factRow("house:" + house.id, "house:" + house.id + ":" + field, field, house[field], T("web.doorstep.field." + field)));
    }
    const list = $("household-list");
    list.innerHTML = "";
    for (const home of house.households) list.appendChild(householdCard(home));
  }

  function householdCard(home) {
    const card = document.createElement("section");
    card.className = "card household";
    card.dataset.household = home.id;
    const state = draft(home.id);
    const title = document.createElement("h2");
    title.textContent = T("web.doorstep.household", { code: home.code }) + (saved.has(home.id) ? " · " + T("web.doorstep.visited") : "");
    const all = document.createElement("button");
    all.type = "button";
    all.className = "link confirm-all";
    all.textContent = T("web.doorstep.confirm_all");
    all.addEventListener("click", () => {
      for (const member of home.members) {
        for (const field of PERSON_FIELDS) {
          const fact = "person:" + member.id + ":" + field;
          if (!state.corrected.has(fact) && member[field] !== null) state.confirmed.add(fact);
        }
        for (const tag of member.tags) {
          const fact = "tag:" + member.id + ":" + tag.tag;
          if (!state.corrected.has(fact) && !ended(tag)) state.confirmed.add(fact);
        }
      }
      showHouse(open);
    });
    card.append(title, all);
    for (const member of home.members) {
      const block = document.createElement("div");
      block.className = "member";
      block.dataset.person = member.id;
      const facts = document.createElement("ul");
      facts.className = "fact-list";
      for (const field of PERSON_FIELDS) {
        facts.appendChild(factRow(home.id, "person:" + member.id + ":" + field, field, member[field], T("web.doorstep.field." + field)));
      }
      block.append(facts, tagRows(home.id, member));
      card.appendChild(block);
    }
    const note = document.createElement("textarea");
    note.className = "note";
    note.rows = 2;
    note.maxLength = 2000;
    note.placeholder = T("web.doorstep.note");
    note.setAttribute("aria-label", T("web.doorstep.note"));
    const save = document.createElement("button");
    save.type = "button";
    save.className = "primary big save-visit";
    save.textContent = T("web.doorstep.save", { confirmed: state.confirmed.size, corrected: state.corrected.size });
    save.addEventListener("click", () => saveVisit(home, note.value.trim(), save));
    card.append(note, save);
    return card;
  }

  $("back").addEventListener("click", () => {
    open = null;
    $("house-view").hidden = true;
    $("houses-view").hidden = false;
    showHouses();
    showMap();
  });

  // -- the visit: written to the outbox, then sent --------------------------------------------

  let writing = false;

  async function saveVisit(home, note, button) {
    if (writing) return;
    const state = draft(home.id);
    const house = drafts.get("house:" + open.id); // the house's facts go with the next visit
    const confirmed = [...state.confirmed, ...(house ? house.confirmed : [])];
    const corrected = [...state.corrected.values(), ...(house ? house.corrected.values() : [])];
    if (!confirmed.length && !corrected.length && !note) return refuse(T("web.doorstep.nothing"));
    refuse("");
    const key = G.uuid();
    const visit = {
      key: key,
      kind: KIND,
      username: me ? me.username : null,
      created_at: new Date().toISOString(),
      label: label(open) + " · " + home.code,
      household_id: home.id,
      body: {
        household_id: home.id,
        client_id: key,
        visited_at: new Date().toISOString(),
        lon: position ? position.lon : null,
        lat: position ? position.lat : null,
        accuracy_m: position && position.accuracy_m ? Math.min(position.accuracy_m, 100000) : null,
        confirmed: confirmed,
        corrected: corrected.map((c) => ({ entity: c.entity, id: c.id, field: c.field, value: c.value })),
        note: note,
      },
    };
    writing = true;
    button.disabled = true;
    try {
      await Outbox.put(visit);
    } catch (e) {
      button.disabled = false;
      return refuse(T("web.report.not_kept", { reason: e && e.message ? e.message : String(e) }));
    } finally {
      writing = false;
    }
    saved.add(home.id);
    applyLocally(home, corrected);
    drafts.delete(home.id);
    drafts.delete("house:" + open.id);
    showHouse(open);
    await showOutbox();
    Outbox.flush(send, KIND).then(showOutbox);
  }

  /** Show the corrections as the register will have them (the server applies them the same
   * way when the visit arrives). */
  function applyLocally(home, corrected) {
    for (const c of corrected) {
      if (c.entity === "house") {
        open[c.field] = c.value;
        continue;
      }
      const member = home.members.find((m) => m.id === c.id);
      if (!member) continue;
      if (c.entity === "person") {
        member[c.field] = c.field === "phone" ? c.value.replace(/ /g, "") : c.value;
        continue;
      }
      const held = member.tags.find((t) => t.tag === c.field);
      if (c.value === null) {
        if (held) held.valid_to = today(-1);
      } else if (held) {
        held.details = c.value;
        if (ended(held)) Object.assign(held, { valid_from: today(), valid_to: null });
      } else {
        member.tags.push({ tag: c.field, details: c.value, valid_from: today(), valid_to: null, source: "visit" });
      }
    }
  }

  /** Send one visit: "sent", "refused" (kept, with the reason), "offline" or "retry" (kept),
   * "held" (another account's, kept for it). */
  async function send(visit) {
    const who = G.user();
    if (visit.username && who && visit.username !== who.username) return "held";
    let answer;
    try {
      answer = await G.api("/api/v1/register/visits", { method: "POST", json: visit.body, background: true });
    } catch (e) {
      if (!(e instanceof G.ApiError)) return failure(visit, "offline");
      if (e.status === 401) {
        signedOut = true;
        return "offline";
      }
      if (e.status >= 400 && e.status < 500 && ![408, 429].includes(e.status)) {
        failed.delete(visit.key);
        visit.refused = e.message;
        await Outbox.put(visit);
        return "refused";
      }
      reasons.set(visit.key, e.message);
      return failure(visit, "retry");
    }
    failed.delete(visit.key);
    reasons.delete(visit.key);
    signedOut = false;
    await Outbox.remove(visit.key);
    const result = $("result");
    result.innerHTML = "<p>" + G.esc(T("web.doorstep.sent", { label: visit.label, time: G.formatTime(answer.visited_at) })) + "</p>";
    if (answer.superseded && answer.superseded.length) {
      const sources = [...new Set(answer.superseded.map((c) => (c.source === "visit" ? T("web.doorstep.source_visit") : c.source || "—")))].join(", ");
      result.innerHTML +=
        '<p class="superseded">' + G.esc(T("web.doorstep.superseded", { count: answer.superseded.length, sources: sources })) + "</p>";
    }
    result.hidden = false;
    loadTiers(); // the last visit and the next due date moved
    return "sent";
  }

  function failure(visit, outcome) {
    failed.set(visit.key, outcome);
    lastFailure = outcome;
    return outcome;
  }

  function waitingState(pending) {
    if (signedOut) return "web.doorstep.waiting_signin";
    if (!navigator.onLine) return "web.doorstep.waiting_offline";
    const troubled = pending.some((v) => failed.has(v.key));
    if (troubled && lastFailure === "offline") return "web.doorstep.waiting_offline";
    if (troubled) return "web.doorstep.waiting_retry";
    return "web.doorstep.waiting_sending";
  }

  async function showOutbox() {
    const waiting = await Outbox.all(KIND);
    $("outbox").hidden = waiting.length === 0;
    const pending = waiting.filter((v) => !v.refused);
    $("outbox-summary").textContent = pending.length ? T(waitingState(pending), { count: pending.length }) : "";
    const list = $("outbox-list");
    list.innerHTML = "";
    for (const v of waiting) {
      saved.add(v.household_id);
      const item = document.createElement("li");
      item.dataset.key = v.key;
      const why = v.refused || reasons.get(v.key);
      item.textContent = G.formatTime(v.created_at) + " " + v.label + (why ? " — " + why : "");
      if (v.refused) item.className = "refused";
      const drop = document.createElement("button");
      drop.type = "button";
      drop.className = "link discard";
      drop.textContent = T("web.report.discard");
      drop.addEventListener("click", async () => {
        await Outbox.remove(v.key);
        failed.delete(v.key);
        reasons.delete(v.key);
        showOutbox();
      });
      item.appendChild(drop);
      list.appendChild(item);
    }
  }

  // -- the red and yellow households (绿黄红), due visits first ---------------------------------

  async function loadTiers() {
    let found;
    try {
      found = await G.api("/api/v1/register/tiers?" + G.query({ grid: grid }), { background: true });
    } catch (e) {
      return; // offline: the list comes with the next load
    }
    $("tiers").hidden = found.length === 0;
    $("tiers-title").textContent = T("web.doorstep.tiers", { count: found.length });
    const list = $("tier-list");
    list.innerHTML = "";
    for (const entry of found) {
      const house = houses.find((h) => h.code === entry.house_code);
      const item = document.createElement("li");
      item.dataset.household = entry.household_code;
      item.className = "tier-" + entry.tier + (entry.overdue ? " overdue" : "");
      const visited = entry.last_visit_at
        ? T("web.doorstep.last_visit", { time: G.formatTime(entry.last_visit_at) })
        : T("web.doorstep.never_visited");
      const due = entry.next_due
        ? T(entry.overdue ? "web.doorstep.overdue" : "web.doorstep.due", { date: entry.next_due })
        : "";
      const button = document.createElement("button");
      button.type = "button";
      button.className = "link";
      button.disabled = !house;
      button.innerHTML =
        '<span class="tier-badge">' + T("web.doorstep.tier." + entry.tier) + "</span> " + G.esc(entry.address) +
        ' <span class="hint">' + G.esc([entry.reason, visited, due].filter(Boolean).join(" · ")) + "</span>";
      if (house) button.addEventListener("click", () => showHouse(house));
      item.appendChild(button);
      list.appendChild(item);
    }
  }

  // -- conflicts with departments' lists --------------------------------------------------------

  async function loadConflicts() {
    let found;
    try {
      found = await G.api("/api/v1/register/conflicts?" + G.query({ grid: grid }), { background: true });
    } catch (e) {
      return; // offline: settled another time
    }
    $("conflicts").hidden = found.length === 0;
    $("conflicts-title").textContent = T("web.doorstep.conflicts", { count: found.length });
    const list = $("conflict-list");
    list.innerHTML = "";
    for (const c of found) {
      const item = document.createElement("li");
      item.dataset.conflict = c.id;
      const field = T("web.doorstep.field." + c.field);
      item.innerHTML = G.esc(
        T("web.doorstep.conflict", {
          name: c.person_name || "—",
          field: field.startsWith("web.") ? c.field : field,
          current: c.current || "—",
          source: c.source,
          proposed: c.proposed || "—",
        })
      );
      for (const decision of ["keep", "take"]) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "link " + decision;
        button.textContent = T("web.doorstep." + decision);
        button.addEventListener("click", () => settle(c, decision));
        item.appendChild(button);
      }
      list.appendChild(item);
    }
  }

  async function settle(conflict, decision) {
    try {
      await G.api("/api/v1/register/conflicts/" + conflict.id + "/settle", { method: "POST", json: { decision: decision } });
    } catch (e) {
      return refuse(T("web.doorstep.settle_failed", { reason: e.message }));
    }
    refuse("");
    loadConflicts();
  }

  const retry = () => Outbox.flush(send, KIND).then(showOutbox);
  window.addEventListener("online", retry);
  window.addEventListener("offline", showOutbox);
  setInterval(retry, RETRY_MS);
  showOutbox().then(retry);
  load();
})();
