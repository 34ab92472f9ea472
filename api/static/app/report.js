/* The grid head's report page (网格通): where, what, a few words, photos, send.
 * A report is written to the outbox first and sent from there, so a dead network only
 * delays it; the page says what is waiting. */
"use strict";

(function () {
  const G = window.Gridgov;
  const T = G.T;
  const CATEGORIES = "gridgov.categories." + G.config.lang;
  const RETRY_MS = 10000;
  if (!G.requireLogin()) return;
  G.keepOffline(); // a grid head opens this page in the field, network or not

  const $ = (id) => document.getElementById(id);
  let position = null; // {lon, lat, accuracy_m, manual}
  let category = null; // {code, name}
  let categories = []; // the sub-categories one picks
  let majors = {}; // major class code -> name, the headings of an unfiltered list
  let photos = [];
  let signedOut = false; // the server said the sign-in has run out: reports wait for a new one
  // What the last failed attempt to send each waiting report met ("offline" or "retry"):
  // the outbox says what really happened, not what navigator.onLine guesses.
  const failed = new Map();
  let lastFailure = null;
  const reasons = new Map(); // report key -> what the server said when it last failed on it
  const gridNames = {}; // grid code -> name, from the lookups made while placing the pin

  // -- where -------------------------------------------------------------------------------

  const map = L.map("report-map", { zoomControl: true, attributionControl: false }).setView([0, 0], 2);
  G.addBackground(map, { level: "community" });
  const pin = L.marker([0, 0], { draggable: true, autoPan: true });
  const accuracy = L.circle([0, 0], { radius: 0, weight: 1, fillOpacity: 0.1 });
  let watching = null;

  let where = { text: "", grid: "", at: null }; // what the position line says
  const LOOKUP_METRES = 25; // ask for the grid again only after moving this far

  function place(lat, lon, accuracyM, manual) {
    position = { lat: lat, lon: lon, accuracy_m: accuracyM, manual: manual };
    pin.setLatLng([lat, lon]).addTo(map);
    if (accuracyM) accuracy.setLatLng([lat, lon]).setRadius(accuracyM).addTo(map);
    else accuracy.remove();
    where.text = manual ? T("web.report.moved") : T("web.report.accuracy", { metres: Math.round(accuracyM || 0) });
    showWhere();
    const here = L.latLng(lat, lon);
    if (!where.at || where.at.distanceTo(here) > LOOKUP_METRES) {
      where.at = here;
      describeGrid(lat, lon);
    }
  }

  function showWhere() {
    $("position-info").textContent = where.text + (where.grid ? " · " + where.grid : "");
  }

  async function describeGrid(lat, lon) {
    try {
      const found = await G.api("/api/v1/locate?" + G.query({ lon: lon, lat: lat }), { background: true });
      gridNames[found.grid.code] = found.grid.name;
      where.grid = found.grid.name;
    } catch (e) {
      where.grid = ""; // offline or outside every grid: the server decides when the report arrives
      where.at = null;
    }
    showWhere();
  }

  // Until the phone knows where it is (or when it cannot say), show the whole city.
  G.api("/api/v1/map/areas?level=city", { background: true })
    .then((fc) => {
      if (!position) map.fitBounds(L.geoJSON(fc).getBounds());
    })
    .catch(() => {});

  function locate() {
    if (!navigator.geolocation) {
      $("position-info").textContent = T("web.report.no_geolocation");
      return;
    }
    if (watching !== null) navigator.geolocation.clearWatch(watching);
    let first = true;
    watching = navigator.geolocation.watchPosition(
      (fix) => {
        if (position && position.manual) return; // the user's own pin wins
        place(fix.coords.latitude, fix.coords.longitude, fix.coords.accuracy, false);
        if (first) map.setView([fix.coords.latitude, fix.coords.longitude], 16);
        first = false;
      },
      (error) => {
        $("position-info").textContent = T("web.report.geolocation_failed", { reason: error.message });
      },
      { enableHighAccuracy: true, maximumAge: 10000, timeout: 20000 }
    );
  }

  pin.on("dragend", () => {
    const at = pin.getLatLng();
    place(at.lat, at.lng, null, true);
  });
  map.on("click", (e) => place(e.latlng.lat, e.latlng.lng, null, true));
  $("locate-again").addEventListener("click", () => {
    position = null;
    locate();
  });
  locate();

  // -- what --------------------------------------------------------------------------------

  async function loadCategories() {
    let all;
    try {
      all = await G.api("/api/v1/categories");
      localStorage.setItem(CATEGORIES, JSON.stringify(all));
    } catch (e) {
      all = JSON.parse(localStorage.getItem(CATEGORIES) || "[]"); // offline: last list
    }
    categories = all.filter((c) => c.parent_code);
    majors = Object.fromEntries(all.filter((c) => !c.parent_code).map((c) => [c.code, c.name]));
    showCategories();
  }

  function showCategories() {
    const words = $("category-search").value.trim().toLowerCase();
    const list = $("category-list");
    list.innerHTML = "";
    const found = categories.filter(
      (c) => !words || c.name.toLowerCase().includes(words) || c.name_zh.includes(words) || c.code.startsWith(words)
    );
    let group = null;
    for (const c of found) {
      // Every one is shown (a short list hid the last ones), under its major class when
      // nothing narrows the list.
      if (!words && c.parent_code !== group && majors[c.parent_code]) {
        const heading = document.createElement("li");
        heading.className = "group";
        heading.textContent = majors[c.parent_code];
        list.appendChild(heading);
      }
      group = c.parent_code;
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.code = c.code;
      button.textContent = c.name;
      button.addEventListener("click", () => choose(c));
      item.appendChild(button);
      list.appendChild(item);
    }
  }

  function choose(c) {
    category = { code: c.code, name: c.name };
    $("category-chosen").textContent = T("web.report.chosen", { name: c.name });
    $("category-chosen").hidden = false;
    $("category-search").value = "";
    $("category-list").innerHTML = "";
  }

  $("category-search").addEventListener("input", showCategories);
  $("category-search").addEventListener("focus", showCategories);
  loadCategories();

  // -- photos ------------------------------------------------------------------------------

  $("photos").addEventListener("change", () => {
    photos = Array.from($("photos").files).slice(0, 5);
    const previews = $("photo-previews");
    previews.innerHTML = "";
    for (const photo of photos) {
      const img = document.createElement("img");
      img.className = "thumb";
      img.alt = photo.name;
      img.src = URL.createObjectURL(photo);
      previews.appendChild(img);
    }
  });

  // -- send --------------------------------------------------------------------------------

  function refuse(message) {
    $("report-error").textContent = message;
    $("report-error").hidden = false;
  }

  let writing = false; // a second tap while the first is being written adds nothing

  $("report-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (writing) return;
    $("report-error").hidden = true;
    if (!position) return refuse(T("web.report.need_position"));
    if (!category) return refuse(T("web.report.need_category"));
    const me = G.user();
    const report = {
      key: G.uuid(),
      username: me ? me.username : null, // only this user's session sends it
      created_at: new Date().toISOString(),
      lon: position.lon,
      lat: position.lat,
      accuracy_m: position.manual ? null : position.accuracy_m,
      category: category.code,
      category_name: category.name,
      description: $("description").value.trim(),
      photos: photos.map((p) => ({ name: p.name, type: p.type, blob: p })),
    };
    writing = true;
    $("submit-report").disabled = true;
    try {
      await Outbox.put(report);
    } catch (e) {
      return refuse(T("web.report.not_kept", { reason: e && e.message ? e.message : String(e) }));
    } finally {
      writing = false;
      $("submit-report").disabled = false;
    }
    $("report-form").reset();
    $("photo-previews").innerHTML = "";
    $("category-chosen").hidden = true;
    category = null;
    photos = [];
    await showOutbox();
    Outbox.flush(send).then(showOutbox);
  });

  /** Send one report; "sent", "refused" (kept, with the reason), "offline" (kept) or "held"
   * (written by another account on this phone: kept until that account signs in again). */
  async function send(report) {
    const me = G.user();
    if (report.username && me && report.username !== me.username) return "held"; // another user's
    const form = new FormData();
    form.append("lon", report.lon);
    form.append("lat", report.lat);
    form.append("category", report.category);
    form.append("description", report.description);
    // When the grid head saw it: a report that waited offline keeps its true time.
    if (report.created_at) form.append("observed_at", report.created_at);
    if (report.accuracy_m) form.append("accuracy_m", Math.min(report.accuracy_m, 100000));
    for (const photo of report.photos) form.append("photos", photo.blob, photo.name || "photo.jpg");
    let incident;
    try {
      incident = await G.api("/api/v1/incidents", {
        method: "POST",
        body: form,
        headers: { "Idempotency-Key": report.key },
        background: true,
      });
    } catch (e) {
      if (!(e instanceof G.ApiError)) return failure(report, "offline"); // the others would fail too
      if (e.status === 401) {
        signedOut = true;
        return "offline"; // every report needs a sign-in: wait for it
      }
      if (e.status >= 400 && e.status < 500 && ![408, 429].includes(e.status)) {
        failed.delete(report.key);
        report.refused = e.message;
        await Outbox.put(report);
        return "refused";
      }
      failure(report, "retry"); // the server is busy or failing: this one later, the others now
      reasons.set(report.key, e.message);
      return "retry";
    }
    failed.delete(report.key);
    reasons.delete(report.key);
    signedOut = false;
    await Outbox.remove(report.key);
    showResult(incident);
    loadMine();
    return "sent";
  }

  function failure(report, outcome) {
    failed.set(report.key, outcome);
    lastFailure = outcome;
    return outcome;
  }

  /** The catalogue key saying why reports still wait: no network, a failing server, or
   * nothing wrong yet (they are being sent). */
  function waitingState(pending) {
    if (signedOut) return "web.report.waiting_signin";
    if (!navigator.onLine) return "web.report.waiting_offline";
    const troubled = pending.some((r) => failed.has(r.key));
    if (troubled && lastFailure === "offline") return "web.report.waiting_offline";
    if (troubled) return "web.report.waiting_retry";
    return "web.report.waiting_sending";
  }

  async function showOutbox() {
    const waiting = await Outbox.all();
    const box = $("outbox");
    box.hidden = waiting.length === 0;
    const pending = waiting.filter((r) => !r.refused);
    $("outbox-summary").textContent = pending.length ? T(waitingState(pending), { count: pending.length }) : "";
    if (pending.length && signedOut) {
      const again = document.createElement("a");
      again.href = "/login?next=/report";
      again.textContent = " " + T("web.login.submit");
      $("outbox-summary").appendChild(again);
    }
    const list = $("outbox-list");
    list.innerHTML = "";
    for (const r of waiting) {
      const item = document.createElement("li");
      item.dataset.key = r.key;
      const why = r.refused || reasons.get(r.key);
      item.textContent = G.formatTime(r.created_at) + " " + r.category_name + (why ? " — " + why : "");
      if (r.refused) item.className = "refused";
      // Any waiting report may be discarded, whatever keeps it waiting: a report the server
      // keeps failing on must not stay on the phone, retried, for ever.
      const drop = document.createElement("button");
      drop.type = "button";
      drop.className = "link discard";
      drop.textContent = T("web.report.discard");
      drop.addEventListener("click", async () => {
        await Outbox.remove(r.key);
        failed.delete(r.key);
        reasons.delete(r.key);
        showOutbox();
      });
      item.appendChild(drop);
      list.appendChild(item);
    }
  }

  function showResult(i) {
    const result = $("result");
    const gridName = i.grid_name || gridNames[i.grid];
    result.innerHTML =
      "<h2>" + T("web.report.sent", { id: i.id }) + "</h2><dl>" +
      "<dt>" + T("web.incident.category") + "</dt><dd>" + G.esc(i.category.name) + "</dd>" +
      "<dt>" + T("web.incident.grid") + "</dt><dd id=\"result-grid\">" + G.esc(gridName ? T("web.incident.grid_named", { name: gridName, code: i.grid }) : i.grid) + (i.snapped_to_nearest_grid ? " " + T("web.report.snapped") : "") + "</dd>" +
      "<dt>" + T("web.incident.department") + "</dt><dd id=\"result-department\">" + G.esc(i.department.name || "—") + "</dd>" +
      "<dt>" + T("web.incident.deadline") + "</dt><dd id=\"result-deadline\">" + G.formatTime(i.deadline_at) + "</dd></dl>" +
      '<a href="/incidents/' + i.id + '">' + T("web.map.open_incident") + "</a>";
    result.hidden = false;
  }

  async function loadMine() {
    try {
      const page = await G.api("/api/v1/incidents?reporter=me&limit=30");
      const list = $("my-reports");
      list.innerHTML = "";
      for (const i of page.items) {
        const item = document.createElement("li");
        item.innerHTML =
          '<a href="/incidents/' + i.id + '"><span class="dot status-' + i.status + '"></span>' +
          "#" + i.id + " " + G.esc(i.category.name) + "</a> <span class=\"status\">" + G.esc(i.status_label) + "</span>" +
          "<time>" + G.formatTime(i.reported_at) + "</time>";
        list.appendChild(item);
      }
    } catch (e) {
      /* offline: the list stays as it was */
    }
  }

  const retry = () => Outbox.flush(send).then(showOutbox);
  window.addEventListener("online", retry);
  window.addEventListener("offline", showOutbox);
  setInterval(retry, RETRY_MS);
  showOutbox().then(retry);
  loadMine();
})();
