/* The command-centre map: fills folium's layers from the API and keeps them live.
 *
 * Incidents are loaded for the visible box (with a margin) and clustered; moving inside the
 * loaded box costs nothing. Every change reaches the map from the server-sent-event stream
 * within a moment: the changed incident is read again and its marker replaced in place. */
"use strict";

window.GridgovMap = (function () {
  const G = window.Gridgov;
  const T = G.T;
  const LIVE_ITEMS = 30;
  let map, cluster, heat, layers;
  const markers = new Map(); // incident id -> marker
  let loadedBox = null; // the box whose incidents are on the map
  let loadedKey = ""; // the filters they were loaded with
  let categoryNames = {};
  let departmentNames = {};
  let gridTimer = null;
  let may = new Set(); // what the signed-in role may do (mayDo)
  let sensorTimer = null;
  let applied = null; // the filters the markers on the map were loaded with
  let reloadSeq = 0; // answers to older reloads are dropped
  let reloading = false;
  let pendingBox = null; // the box and filters of the reload on its way
  let pendingKey = "";
  const changedMeanwhile = new Set(); // incidents changed while a reload was on its way

  function start(names) {
    if (!G.requireLogin()) return;
    map = window[names.map];
    cluster = window[names.cluster];
    heat = window[names.heat];
    layers = {};
    for (const [key, name] of Object.entries(names.layers)) layers[key] = window[name];
    window.gridgovMap = { map, cluster, markers, layers }; // for operators' own scripts and the tests
    L.control.scale({ imperial: false }).addTo(map); // metres only (folium's scale adds miles)
    document.getElementById("f-apply").addEventListener("click", () => reload(true));
    foldOnPhones();
    map.on("moveend", () => reload(false));
    map.on("overlayadd", (e) => {
      if (e.layer === heat) loadHeat();
      if (e.layer === layers.visits) loadVisits();
      if (e.layer === layers.tiers_grid) loadTiers("grid");
      if (e.layer === layers.tiers_community) loadTiers("community");
    });
    const visitMonth = document.getElementById("f-visit-month");
    visitMonth.value = new Date().toISOString().slice(0, 7);
    visitMonth.addEventListener("change", () => {
      if (map.hasLayer(layers.visits)) loadVisits();
    });
    loadFilterChoices();
    loadBackground();
    loadGrids();
    loadOverlays();
    reload(true);
    listen();
  }

  /** On a phone the filters open from a button and the layer list from Leaflet's layers icon;
   *  both fold again when the map is touched. (On a wall screen both stay open.) */
  function foldOnPhones() {
    const panel = document.getElementById("map-filters");
    const toggle = document.getElementById("filters-toggle");
    const showFilters = (open) => {
      panel.classList.toggle("open", open);
      toggle.setAttribute("aria-expanded", String(open));
    };
    toggle.addEventListener("click", () => showFilters(!panel.classList.contains("open")));
    document.getElementById("f-apply").addEventListener("click", () => showFilters(false));
    if (!window.matchMedia("(max-width: 700px)").matches) return;
    const layerList = document.querySelector(".leaflet-control-layers");
    const fold = () => layerList && layerList.classList.remove("leaflet-control-layers-expanded");
    fold();
    map.on("click", () => {
      fold();
      showFilters(false);
    });
  }

  // -- filters -----------------------------------------------------------------------------

  function filters() {
    const statuses = Array.from(document.querySelectorAll("#f-status input:checked")).map((i) => i.value);
    const since = document.getElementById("f-since").value;
    const until = document.getElementById("f-until").value;
    return {
      status: statuses,
      category: document.getElementById("f-category").value,
      area: document.getElementById("f-area").value,
      since: since ? new Date(since + "T00:00:00").toISOString() : "",
      // until the end of the chosen day
      until: until ? new Date(new Date(until + "T00:00:00").getTime() + 86400000).toISOString() : "",
    };
  }

  function matches(props, f) {
    if (f.status.length && !f.status.includes(props.status)) return false;
    if (f.category && !props.category.startsWith(f.category)) return false;
    if (f.area && !(props.areas || []).includes(f.area)) return false;
    if (f.since && props.reported_at < f.since) return false;
    if (f.until && props.reported_at >= f.until) return false;
    return true;
  }

  async function loadFilterChoices() {
    try {
      const categories = await G.api("/api/v1/categories");
      const select = document.getElementById("f-category");
      for (const c of categories) {
        categoryNames[c.code] = c.name;
        if (c.code.length === 2) select.add(new Option(c.code + " " + c.name, c.code));
      }
      const districts = await G.api("/api/v1/map/areas?level=district");
      const area = document.getElementById("f-area");
      for (const d of districts.features) area.add(new Option(d.properties.name, d.properties.code));
    } catch (e) {
      console.warn("filters", e);
    }
  }

  // -- incidents ---------------------------------------------------------------------------

  function icon(p) {
    const cls = "inc status-" + p.status + (p.urgent ? " urgent" : "") + (p.source === "sensor" ? " sensor" : "");
    return L.divIcon({ className: "inc-icon", html: '<span class="' + cls + '"></span>', iconSize: [18, 18] });
  }

  function makeMarker(feature) {
    const p = feature.properties;
    const [lon, lat] = feature.geometry.coordinates;
    const marker = L.marker([lat, lon], { icon: icon(p), title: "#" + p.id + " " + (p.category_name || "") });
    marker.incident = p;
    marker.sameAs = JSON.stringify(feature); // what it shows; a reload keeps it if unchanged
    marker.bindPopup(() => popupShell(p), { minWidth: 240, maxWidth: 320 });
    marker.on("popupopen", (e) => fillPopup(e.popup, p.id));
    return marker;
  }

  function popupShell(p) {
    return '<div class="popup" data-incident-id="' + p.id + '">' + G.esc(p.category_name) + " #" + p.id + "<br>" + T("web.loading") + "</div>";
  }

  async function fillPopup(popup, id) {
    try {
      const i = await G.api("/api/v1/incidents/" + id);
      const photos = i.photos
        .map(
          (ph) =>
            '<img class="thumb" alt="" src="' + G.esc(ph.thumb_url) + '">'
        )
        .join("");
      popup.setContent(
        '<div class="popup" data-incident-id="' + i.id + '">' +
          '<h3><span class="dot status-' + i.status + '"></span>' + G.esc(i.category.name) + " #" + i.id + "</h3>" +
          "<dl>" +
          row(T("web.incident.status"), i.status_label + (i.category.urgent ? " · " + T("web.incident.urgent") : "")) +
          row(T("web.incident.reported_at"), G.formatTime(i.reported_at)) +
          row(T("web.incident.grid"), i.grid_name ? T("web.incident.grid_named", { name: i.grid_name, code: i.grid }) : i.grid) +
          row(T("web.incident.department"), i.department.name || i.department.code || "—") +
          row(T("web.incident.deadline"), G.formatTime(i.deadline_at)) +
          "</dl>" +
          (i.description ? '<p class="desc">' + G.esc(i.description) + "</p>" : "") +
          (photos ? '<div class="thumbs">' + photos + "</div>" : "") +
          '<a class="open" href="/incidents/' + i.id + '">' + T("web.map.open_incident") + "</a></div>"
      );
    } catch (e) {
      popup.setContent('<div class="popup error">' + G.esc(e.message) + "</div>");
    }
  }

  function row(label, value) {
    return "<dt>" + G.esc(label) + "</dt><dd>" + G.esc(value) + "</dd>";
  }

  /** The visible box with a margin, kept inside the world the API accepts. */
  function paddedBox() {
    const box = map.getBounds().pad(0.5);
    const clamp = (v, limit) => Math.max(-limit, Math.min(limit, v));
    return L.latLngBounds(
      [clamp(box.getSouth(), 90), clamp(box.getWest(), 180)],
      [clamp(box.getNorth(), 90), clamp(box.getEast(), 180)]
    );
  }

  async function reload(force) {
    const f = filters();
    const key = JSON.stringify(f);
    const view = map.getBounds();
    if (!force && key === loadedKey && loadedBox && loadedBox.contains(view)) return;
    if (!force && reloading && key === pendingKey && pendingBox.contains(view)) return;
    const box = paddedBox();
    const bbox = [box.getWest(), box.getSouth(), box.getEast(), box.getNorth()].map((v) => v.toFixed(5)).join(",");
    const seq = ++reloadSeq;
    reloading = true;
    pendingBox = box;
    pendingKey = key;
    changedMeanwhile.clear();
    try {
      const fc = await G.api("/api/v1/map/incidents?" + G.query(Object.assign({ bbox: bbox }, f)));
      if (seq !== reloadSeq) return; // a newer reload is on its way
      reloading = false;
      applied = f;
      replaceMarkers(fc.features);
      loadedBox = box;
      loadedKey = key;
      document.getElementById("map-count").textContent = T("web.map.count", {
        shown: fc.numberReturned,
        total: fc.numberMatched,
      });
      if (map.hasLayer(heat)) loadHeat();
      // The answer was read before these changes reached us: read them again.
      for (const id of changedMeanwhile) refreshIncident({ id: id }, { quiet: true });
      changedMeanwhile.clear();
    } catch (e) {
      if (seq !== reloadSeq) return;
      reloading = false;
      document.getElementById("map-count").textContent = e.message;
    }
  }

  /** Put these features on the map, keeping the markers that have not changed: re-clustering
   *  thousands of markers is what makes a wall map stutter. */
  function replaceMarkers(features) {
    const wanted = new Map(features.map((feature) => [feature.id, feature]));
    const stale = [];
    for (const [id, marker] of markers) {
      const feature = wanted.get(id);
      if (feature && marker.sameAs === JSON.stringify(feature)) wanted.delete(id);
      else stale.push(marker);
    }
    if (stale.length > markers.size / 2) {
      cluster.clearLayers();
      markers.clear();
      wanted.clear();
      for (const feature of features) wanted.set(feature.id, feature);
    } else {
      cluster.removeLayers(stale);
      for (const marker of stale) markers.delete(marker.incident.id);
    }
    const fresh = [];
    for (const feature of wanted.values()) {
      const marker = makeMarker(feature);
      markers.set(feature.id, marker);
      fresh.push(marker);
    }
    cluster.addLayers(fresh);
  }

  async function loadHeat() {
    const f = Object.assign({}, applied || filters());
    delete f.status; // the heat map shows every incident of the period, closed ones too
    try {
      heat.setLatLngs(await G.api("/api/v1/map/heat?" + G.query(f)));
    } catch (e) {
      console.warn("heat", e);
    }
  }

  /** An incident changed: read it again and put its marker right. */
  async function refreshIncident(change, options) {
    const quiet = options && options.quiet;
    if (reloading) changedMeanwhile.add(change.id);
    let i;
    try {
      i = await G.api("/api/v1/incidents/" + change.id);
    } catch (e) {
      return;
    }
    const props = {
      id: i.id,
      status: i.status,
      level: i.level,
      category: i.category.code,
      category_name: i.category.name,
      urgent: i.category.urgent,
      grid: i.grid,
      department: i.department.code,
      reported_at: i.reported_at,
      deadline_at: i.deadline_at,
      source: i.source,
      areas: Object.values(i.areas),
    };
    const old = markers.get(i.id);
    if (old) {
      cluster.removeLayer(old);
      markers.delete(i.id);
    }
    if (matches(props, applied || filters())) {
      const marker = makeMarker({ id: i.id, properties: props, geometry: { coordinates: [i.position.lon, i.position.lat] } });
      markers.set(i.id, marker);
      cluster.addLayer(marker);
    }
    if (quiet) return;
    noteLive(change, i);
    if (i.source === "sensor") scheduleSensors();
    if (map.hasLayer(heat) && change.action === "report") heat.addLatLng([i.position.lat, i.position.lon]);
    scheduleGrids();
  }

  function noteLive(change, i) {
    const list = document.getElementById("live-list");
    const item = document.createElement("li");
    item.dataset.incidentId = i.id;
    item.className = "fresh";
    item.innerHTML =
      '<span class="dot status-' + i.status + '"></span>' +
      '<time>' + G.formatTime(change.updated_at) + "</time> " +
      '<a href="/incidents/' + i.id + '">#' + i.id + " " + G.esc(i.category.name) + "</a> " +
      G.esc(G.eventLabel(change.action)) +
      " · " + G.esc(i.status_label);
    item.addEventListener("click", (e) => {
      if (e.target.tagName === "A") return;
      const marker = markers.get(i.id);
      if (marker) cluster.zoomToShowLayer(marker, () => marker.openPopup());
    });
    list.prepend(item);
    while (list.children.length > LIVE_ITEMS) list.lastChild.remove();
    setTimeout(() => item.classList.remove("fresh"), 4000);
  }

  function listen() {
    const state = document.getElementById("live-state");
    const source = new EventSource("/api/v1/incidents/stream?access_token=" + encodeURIComponent(G.token()));
    let connections = 0;
    source.addEventListener("ready", () => {
      state.textContent = T("web.map.live_on");
      state.className = "live-state on";
      if (connections++ > 0) {
        // Back after a break: what changed meanwhile never came down the stream.
        reload(true);
        loadGrids();
        loadSensors();
      }
    });
    source.addEventListener("incident", (e) => refreshIncident(JSON.parse(e.data)));
    // The server ends the stream when the sign-in lapses (token expired, account switched off).
    source.addEventListener("closed", () => {
      source.close();
      source.onerror();
    });
    source.onerror = () => {
      state.textContent = T("web.map.live_off"); // EventSource reconnects by itself...
      state.className = "live-state off";
      // ...unless the sign-in has run out: then the API call sends the screen to sign in.
      G.api("/api/v1/auth/me").catch(() => {});
    };
  }

  // -- the other layers --------------------------------------------------------------------

  function loadBackground() {
    G.api("/api/v1/map/streets")
      .then((fc) => L.geoJSON(fc, { style: { color: "#aab4be", weight: 1 }, interactive: false }).addTo(layers.streets))
      .catch(() => {});
    const outline = { district: { color: "#1b2631", weight: 3 }, street: { color: "#34495e", weight: 1.5, dashArray: "5 4" } };
    for (const level of ["street", "district"]) {
      G.api("/api/v1/map/areas?level=" + level)
        .then((fc) =>
          L.geoJSON(fc, {
            style: Object.assign({ fill: false }, outline[level]),
            onEachFeature: (f, l) => l.bindTooltip(G.esc(f.properties.name), { sticky: true }),
          }).addTo(layers.areas)
        )
        .catch(() => {});
    }
  }

  function gridColour(open) {
    if (!open) return null;
    if (open >= 5) return "#b03a2e";
    if (open >= 3) return "#e67e22";
    return "#f5b041";
  }

  async function loadGrids() {
    try {
      const fc = await G.api("/api/v1/map/grids");
      layers.grids.clearLayers();
      L.geoJSON(fc, {
        style: (f) => {
          const colour = gridColour(f.properties.open);
          return { color: "#85929e", weight: 0.5, fill: true, fillColor: colour || "#ffffff", fillOpacity: colour ? 0.45 : 0 };
        },
        onEachFeature: (f, l) =>
          l.bindTooltip(
            G.esc(f.properties.name) + " · " + T("web.map.open_count", { count: f.properties.open }) +
              (f.properties.head ? " · " + G.esc(f.properties.head) : ""),
            { sticky: true }
          ),
      }).addTo(layers.grids);
    } catch (e) {
      console.warn("grids", e);
    }
  }

  const VISIT_COLOURS = { green: "#27ae60", yellow: "#f1c40f", red: "#c0392b" };
  let visitSeq = 0;

  /** Communities coloured by the distinct units registered to visit them in the chosen month
   *  (every signed-in role may read it: the visitors are officials on duty). */
  async function loadVisits() {
    const month = document.getElementById("f-visit-month").value;
    if (!month) return;
    const seq = ++visitSeq;
    try {
      const fc = await G.api("/api/v1/map/visits?" + G.query({ month: month }));
      if (seq !== visitSeq) return;
      layers.visits.clearLayers();
      L.geoJSON(fc, {
        style: (f) => ({
          color: "#5d6d7e",
          weight: 0.5,
          fillColor: VISIT_COLOURS[f.properties.level],
          fillOpacity: f.properties.units ? 0.55 : 0, // unvisited: only the outline
        }),
        onEachFeature: (f, l) =>
          l.bindTooltip(T("web.visits.units", { name: G.esc(f.properties.name), units: f.properties.units }), { sticky: true }),
      }).addTo(layers.visits);
      window.gridgovMap.visitsMonth = fc.month; // the month on the map (for the tests)
    } catch (e) {
      console.warn("visits", e);
    }
  }

  const tierSeq = { grid: 0, community: 0 };

  /** Grids or communities coloured by the worst household tier (绿黄红) present, with the
   *  counts per tier; a count of 1-4 the role may not see comes as null and shows as "<5".
   *  Only areas the register's read table lets the role count in are in the answer. */
  async function loadTiers(level) {
    const layer = level === "grid" ? layers.tiers_grid : layers.tiers_community;
    const seq = ++tierSeq[level];
    try {
      const fc = await G.api("/api/v1/map/tiers?" + G.query({ level: level }));
      if (seq !== tierSeq[level]) return;
      layer.clearLayers();
      const shown = (n) => (n === null || n === undefined ? T("web.map.tier_hidden") : n);
      L.geoJSON(fc, {
        style: (f) => ({ color: "#5d6d7e", weight: 0.5, fillColor: f.properties.colour, fillOpacity: 0.5 }),
        onEachFeature: (f, l) => {
          const c = f.properties.counts;
          l.bindTooltip(
            T("web.map.tier_counts", {
              name: G.esc(f.properties.name),
              red: shown(c.red),
              yellow: shown(c.yellow),
              green: shown(c.green),
            }),
            { sticky: true }
          );
        },
      }).addTo(layer);
      window.gridgovMap["tiers_" + level] = fc.features.length; // what is on the map (for the tests)
    } catch (e) {
      console.warn("tiers", e);
    }
  }

  function scheduleSensors() {
    clearTimeout(sensorTimer);
    sensorTimer = setTimeout(loadSensors, 300);
  }

  function scheduleGrids() {
    clearTimeout(gridTimer);
    gridTimer = setTimeout(loadGrids, 3000);
  }

  async function loadSensors() {
    if (!may.has("fences")) return; // sensors belong with fences: roles without them are refused
    try {
      const fc = await G.api("/api/v1/sensors");
      layers.sensors.clearLayers();
      L.geoJSON(fc, {
        pointToLayer: (f, latlng) =>
          L.circleMarker(latlng, {
            radius: 5,
            color: f.properties.alert ? "#922b21" : "#117a65",
            fillColor: f.properties.alert ? "#e74c3c" : "#48c9b0",
            fillOpacity: 0.9,
            weight: 1,
          }),
        onEachFeature: (f, l) =>
          l.bindTooltip(
            G.esc(f.properties.name || f.properties.code) + " · " +
              (f.properties.alert ? T("web.map.sensor_alert") : T("web.map.sensor_normal"))
          ),
      }).addTo(layers.sensors);
    } catch (e) {
      console.warn("sensors", e);
    }
  }

  /** What the signed-in role may do, from the server's role table: layers it could only
   * be refused are not asked for. */
  async function mayDo() {
    try {
      const me = await G.api("/api/v1/auth/me");
      return new Set(me.may || []);
    } catch (e) {
      return new Set((G.user() || {}).may || []);
    }
  }

  async function loadOverlays() {
    may = await mayDo();
    if (may.has("fences")) loadMonitoring();
    if (may.has("search_supplies")) loadStockpiles();
    window.gridgovMap.overlaysAsked = true; // every layer the role may read is asked for
  }

  function loadMonitoring() {
    loadSensors();
    G.api("/api/v1/fences")
      .then((fc) =>
        L.geoJSON(fc, {
          style: (f) => ({ color: f.properties.rule === "watch" ? "#2874a6" : "#c0392b", weight: 2, fillOpacity: 0.08 }),
          onEachFeature: (f, l) => l.bindTooltip(G.esc(f.properties.name || f.properties.code)),
        }).addTo(layers.fences)
      )
      .catch(() => {});
  }

  function loadStockpiles() {
    G.api("/api/v1/map/stockpiles")
      .then((fc) =>
        L.geoJSON(fc, {
          pointToLayer: (f, latlng) =>
            L.marker(latlng, {
              icon: L.divIcon({ className: "stock-icon", html: '<span class="stock"></span>', iconSize: [14, 14] }),
            }),
          onEachFeature: (f, l) =>
            l.bindPopup(
              "<b>" + G.esc(f.properties.name) + "</b><br>" + G.esc(f.properties.contact) + " " + G.esc(f.properties.phone) +
                "<br>" + G.esc(f.properties.hours)
            ),
        }).addTo(layers.stockpiles)
      )
      .catch(() => {});
  }

  return { start };
})();
