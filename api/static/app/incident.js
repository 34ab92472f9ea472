/* One incident: details, photos, the audit trail as a timeline, and what the signed-in
 * role may do next (the server says which moves: "my_moves"). */
"use strict";

(function () {
  const G = window.Gridgov;
  const T = G.T;
  if (!G.requireLogin()) return;

  const $ = (id) => document.getElementById(id);
  const id = G.config.incident_id;
  let current = null;
  let chosen = null;
  let formTicket = 0; // which opening of the form an answer belongs to

  // What each move asks for before it is sent.
  const FORMS = {
    accept: { note: "web.incident.note", required: false },
    reject: { note: "web.incident.reason", required: true, field: "reason" },
    resolve: { note: "web.incident.resolution", required: true, photos: true },
    close: { note: "web.incident.note", required: false, rating: true },
    reopen: { note: "web.incident.reason", required: true, field: "reason" },
    dispatch: { note: "web.incident.note", required: false, department: true },
    whistle: { note: "web.incident.note", required: false, departments: true },
    check_in: { note: "web.incident.note", required: false },
  };

  function row(label, value) {
    return "<dt>" + G.esc(label) + "</dt><dd>" + value + "</dd>";
  }

  function gridLabel(i) {
    return i.grid_name ? T("web.incident.grid_named", { name: i.grid_name, code: i.grid }) : i.grid;
  }

  function render(i) {
    current = i;
    document.title = "#" + i.id + " " + i.category.name + " · " + T("web.brand");
    const photos = i.photos
      // Signed, short-lived links from the API: no token in any URL.
      .map((p) => '<a class="full-photo" target="_blank" rel="noopener" href="' + G.esc(p.url) + '"><img class="thumb" alt="" src="' + G.esc(p.thumb_url) + '"></a>')
      .join("");
    const box = $("incident");
    box.setAttribute("aria-busy", "false");
    box.innerHTML =
      '<header><h1><span class="dot status-' + i.status + '"></span>#' + i.id + " " + G.esc(i.category.name) +
      (i.category.urgent ? ' <span class="badge urgent">' + T("web.incident.urgent") + "</span>" : "") + "</h1>" +
      '<p class="status-line"><span class="badge status-' + i.status + '" id="incident-status">' + G.esc(i.status_label) + "</span> " +
      (i.level ? T("level." + i.level) : "") + "</p></header>" +
      '<div class="split-detail"><dl class="facts">' +
      row(T("web.incident.reported_at"), G.formatTime(i.reported_at)) +
      row(T("web.incident.grid"), G.esc(gridLabel(i)) + (i.snapped_to_nearest_grid ? " " + T("web.report.snapped") : "")) +
      row(T("web.incident.department"), G.esc(i.department.name || i.department.code || "—")) +
      row(T("web.incident.deadline"), G.formatTime(i.deadline_at)) +
      row(T("web.incident.source"), G.esc(T("web.source." + i.source))) +
      (i.rating ? row(T("web.incident.rating"), "★".repeat(i.rating)) : "") +
      (i.possible_duplicate_of
        ? row(T("web.incident.duplicate_of"), '<a href="/incidents/' + i.possible_duplicate_of + '">#' + i.possible_duplicate_of + "</a>")
        : "") +
      "</dl>" +
      '<div id="incident-map" class="detail-map"></div></div>' +
      (i.description ? '<p class="desc">' + G.esc(i.description) + "</p>" : "") +
      (photos ? '<div class="thumbs">' + photos + "</div>" : "");
    const map = L.map("incident-map", { attributionControl: false }).setView([i.position.lat, i.position.lon], 16);
    G.addBackground(map, { level: "community" });
    L.marker([i.position.lat, i.position.lon]).addTo(map);
    if (i.position.accuracy_m) L.circle([i.position.lat, i.position.lon], { radius: i.position.accuracy_m, weight: 1 }).addTo(map);
    renderTimeline(i.history);
    renderActions(i.my_moves || []);
  }

  function renderTimeline(history) {
    const list = $("timeline");
    list.innerHTML = "";
    for (const e of history) {
      const item = document.createElement("li");
      item.innerHTML =
        "<time>" + G.formatTime(e.at) + "</time> <b>" + G.esc(G.eventLabel(e.action)) + "</b>" +
        (e.to ? ' → <span class="dot status-' + e.to + '"></span>' + G.esc(T("status." + e.to)) : "") +
        (e.level ? " · " + G.esc(T("level." + e.level)) : "") +
        (e.department ? " · " + G.esc(e.department_name || e.department) : "") +
        (e.actor_name ? ' <span class="actor">' + G.esc(T("web.incident.by", { name: e.actor_name })) + "</span>" : "") +
        (e.note ? '<p class="note">' + G.esc(e.note) + "</p>" : "");
      list.appendChild(item);
    }
  }

  function renderActions(moves) {
    const section = $("incident-actions");
    const buttons = $("action-buttons");
    buttons.innerHTML = "";
    $("action-form").hidden = true;
    section.hidden = moves.length === 0;
    for (const move of moves) {
      if (!FORMS[move]) continue;
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.move = move;
      button.textContent = T("move." + move);
      button.addEventListener("click", () => openForm(move));
      buttons.appendChild(button);
    }
  }

  function openForm(move) {
    chosen = move;
    formTicket++;
    $("action-submit").disabled = false;
    const spec = FORMS[move];
    $("action-note-label").textContent = T(spec.note);
    $("action-note").value = "";
    $("action-note").required = !!spec.required;
    $("action-submit").textContent = T("move." + move);
    let extra = "";
    if (spec.rating && current && (current.my_moves || []).includes("rate")) {
      extra += "<label>" + T("web.incident.rating") + ' <select id="action-rating"><option value="">—</option>' +
        [5, 4, 3, 2, 1].map((n) => '<option value="' + n + '">' + "★".repeat(n) + "</option>").join("") + "</select></label>";
    }
    if (spec.department) extra += "<label>" + T("web.incident.department_code") + ' <select id="action-department" required></select></label>';
    if (spec.departments) extra += '<fieldset id="action-departments"><legend>' + T("web.incident.department_codes") + "</legend></fieldset>";
    if (spec.photos) extra += "<label>" + T("web.report.photos") + ' <input id="action-photos" type="file" accept="image/*" multiple></label>';
    $("action-extra").innerHTML = extra;
    if (spec.department || spec.departments) offerDepartments(spec);
    $("action-form").hidden = false;
    $("action-error").hidden = true;
    $("action-done").hidden = true;
    $("action-note").focus();
  }

  /** The departments of the incident's own areas, nearest level first, to pick from. */
  async function offerDepartments(spec) {
    const ticket = formTicket;
    const areas = Object.values(current.areas || {}).filter(Boolean);
    let found;
    try {
      found = await G.api("/api/v1/departments?" + G.query({ area: areas }));
    } catch (e) {
      if (ticket !== formTicket) return;
      // Without the list, a whistle would summon nobody and escalate: nothing to send.
      $("action-submit").disabled = true;
      $("action-error").textContent = e.message;
      $("action-error").hidden = false;
      return;
    }
    if (ticket !== formTicket) return; // another form was opened meanwhile
    // Only the departments the caller may name (the answer says which): others would be refused.
    const reach = new Set(current.my_departments || found.map((d) => d.code));
    const others = found.filter((d) => d.code !== current.department.code && reach.has(d.code));
    const label = (d) => d.name + " · " + T("level." + d.level);
    if (spec.department) {
      const select = $("action-department");
      select.add(new Option(T("web.incident.choose_department"), ""));
      for (const d of others) select.add(new Option(label(d), d.code));
    }
    if (spec.departments) {
      const box = $("action-departments");
      for (const d of others) {
        box.insertAdjacentHTML(
          "beforeend",
          '<label class="check"><input type="checkbox" value="' + G.esc(d.code) + '"> ' + G.esc(label(d)) + "</label>"
        );
      }
    }
  }

  $("action-cancel").addEventListener("click", () => ($("action-form").hidden = true));

  $("action-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const spec = FORMS[chosen];
    const note = $("action-note").value.trim();
    if (spec.required && !note) {
      $("action-error").textContent = T("web.incident.note_required");
      $("action-error").hidden = false;
      return;
    }
    const path = "/api/v1/incidents/" + id + "/" + chosen.replace("_", "-");
    let options;
    if (spec.photos) {
      const form = new FormData();
      form.append("note", note);
      for (const file of $("action-photos").files) form.append("photos", file, file.name);
      options = { method: "POST", body: form };
    } else {
      const body = {};
      body[spec.field || "note"] = note;
      if ($("action-rating") && $("action-rating").value) body.rating = parseInt($("action-rating").value, 10);
      if (spec.department) body.department_code = $("action-department").value;
      if (spec.departments) {
        body.department_codes = Array.from($("action-departments").querySelectorAll("input:checked")).map((i) => i.value);
      }
      options = { method: "POST", json: body };
    }
    let after;
    try {
      after = await G.api(path, options);
    } catch (e) {
      $("action-error").textContent = e.message;
      $("action-error").hidden = false;
      return;
    }
    showDone(T("web.incident.done", { move: T("move." + chosen) }));
    load(after);
  });

  function showDone(text) {
    $("action-done").textContent = text;
    $("action-done").hidden = false;
  }

  /** The incident as the server has it now. After a move (``after`` is what the move
   * answered), the caller may no longer read it (a rejection or an escalation hands it on):
   * then the page keeps what the move answered and says so, instead of a bare 403. */
  async function load(after) {
    try {
      render(await G.api("/api/v1/incidents/" + id));
    } catch (e) {
      if (after && e.status === 403) {
        render(Object.assign({}, after, { photos: [], my_moves: [] }));
        showDone(T("web.incident.handed_on"));
        return;
      }
      $("incident").innerHTML = '<p class="error">' + G.esc(e.message) + "</p>";
    }
  }
  load();
})();
