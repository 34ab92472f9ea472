/* The supplies map: a point, what is needed, the plan on the map, reserve it. */
"use strict";

(function () {
  const G = window.Gridgov;
  const T = G.T;
  if (!G.requireLogin()) return;

  const $ = (id) => document.getElementById(id);
  const map = L.map("supplies-map");
  G.addBackground(map, { level: "street" });
  const planLayer = L.layerGroup().addTo(map);
  let point = null;
  let pointMarker = null;
  let items = [];
  let lastPlan = null;

  G.api("/api/v1/map/areas?level=city")
    .then((fc) => map.fitBounds(L.geoJSON(fc).getBounds()))
    .catch(() => map.setView([30, 120], 10));

  function setPoint(lat, lon, label) {
    point = { lat: lat, lon: lon };
    if (!pointMarker) {
      pointMarker = L.marker([lat, lon], { draggable: true }).addTo(map);
      pointMarker.on("dragend", () => {
        const at = pointMarker.getLatLng();
        setPoint(at.lat, at.lng, T("web.supplies.point_chosen"));
      });
    }
    pointMarker.setLatLng([lat, lon]);
    $("point-info").textContent = label + " (" + lat.toFixed(5) + ", " + lon.toFixed(5) + ")";
  }

  map.on("click", (e) => setPoint(e.latlng.lat, e.latlng.lng, T("web.supplies.point_chosen")));
  $("use-my-position").addEventListener("click", () => {
    navigator.geolocation.getCurrentPosition(
      (fix) => {
        setPoint(fix.coords.latitude, fix.coords.longitude, T("web.supplies.point_mine"));
        map.setView([fix.coords.latitude, fix.coords.longitude], 14);
      },
      (error) => showError(T("web.report.geolocation_failed", { reason: error.message })),
      { enableHighAccuracy: true, timeout: 20000 }
    );
  });

  // -- what is needed ----------------------------------------------------------------------

  function addNeed(code, quantity) {
    const row = document.createElement("div");
    row.className = "need";
    const select = document.createElement("select");
    select.className = "need-item";
    select.setAttribute("aria-label", T("web.supplies.item"));
    for (const item of items) select.add(new Option(item.name + " (" + item.unit + ")", item.code));
    if (code) select.value = code;
    const amount = document.createElement("input");
    amount.type = "number";
    amount.min = "1";
    amount.step = "1";
    amount.className = "need-quantity";
    amount.value = quantity || 100;
    amount.setAttribute("aria-label", T("web.supplies.quantity"));
    const drop = document.createElement("button");
    drop.type = "button";
    drop.className = "link";
    drop.textContent = "×";
    drop.setAttribute("aria-label", T("web.supplies.remove_item"));
    drop.addEventListener("click", () => row.remove());
    row.append(select, amount, drop);
    $("need-rows").appendChild(row);
  }

  G.api("/api/v1/supplies/items")
    .then((list) => {
      items = list;
      addNeed();
    })
    .catch((e) => showError(e.message));
  $("add-need").addEventListener("click", () => addNeed());

  function needs() {
    return Array.from(document.querySelectorAll("#need-rows .need")).map((row) => ({
      item: row.querySelector(".need-item").value,
      quantity: parseInt(row.querySelector(".need-quantity").value, 10),
    }));
  }

  function showError(message) {
    $("supplies-error").textContent = message;
    $("supplies-error").hidden = !message;
  }

  // -- the plan ----------------------------------------------------------------------------

  $("supplies-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    showError("");
    if (!point) return showError(T("web.supplies.need_point"));
    const wanted = needs();
    const bad = wanted.find((n) => !(n.quantity > 0));
    if (!wanted.length || bad) return showError(T("web.supplies.need_quantity"));
    try {
      const answer = await G.api(
        "/api/v1/supplies/nearest?" +
          G.query({
            lon: point.lon,
            lat: point.lat,
            by: $("by").value,
            item: wanted.map((n) => n.item + ":" + n.quantity),
          })
      );
      showPlan(answer);
    } catch (e) {
      showError(e.message);
    }
  });

  function itemName(code) {
    const item = items.find((i) => i.code === code);
    return item ? item.name : code;
  }

  function unitOf(code) {
    const item = items.find((i) => i.code === code);
    return item ? item.unit : "";
  }

  function showPlan(answer) {
    lastPlan = answer.plan;
    planLayer.clearLayers();
    const box = $("plan");
    const picks = answer.plan.stockpiles;
    let html = "<h2>" + T(answer.plan.covered ? "web.supplies.covered" : "web.supplies.not_covered") + "</h2>";
    if (answer.note) html += '<p class="hint">' + G.esc(answer.note) + "</p>";
    const shortfall = Object.entries(answer.plan.shortfall || {});
    if (shortfall.length) {
      html += '<p class="error">' + T("web.supplies.shortfall") + " " +
        shortfall.map(([code, n]) => G.esc(itemName(code)) + " " + n + " " + G.esc(unitOf(code))).join(T("web.separator.list")) + "</p>";
    }
    html += '<ol class="picks">';
    picks.forEach((s, n) => {
      html +=
        '<li data-stockpile="' + G.esc(s.code) + '"><b>' + G.esc(s.name) + "</b> · " + G.formatDistance(s.distance_m) +
        (answer.distance === "road" ? " " + T("web.supplies.by_road") : "") +
        "<br>" + Object.entries(s.take).map(([code, q]) => G.esc(itemName(code)) + " × " + q + " " + G.esc(unitOf(code))).join(T("web.separator.clause")) +
        '<br><span class="contact">' + T("web.supplies.contact") + " " + G.esc(s.contact.name) +
        ' <a href="tel:' + G.esc(s.contact.phone) + '">' + G.esc(s.contact.phone) + "</a></span>" +
        (s.opening_hours ? '<br><span class="hint">' + G.esc(s.opening_hours) + "</span>" : "") +
        "</li>";
      const at = [s.position.lat, s.position.lon];
      L.marker(at, {
        icon: L.divIcon({ className: "pick-icon", html: '<span class="pick">' + (n + 1) + "</span>", iconSize: [24, 24] }),
        title: s.name,
      })
        .bindPopup("<b>" + G.esc(s.name) + "</b><br>" + G.formatDistance(s.distance_m))
        .addTo(planLayer);
      L.polyline([[point.lat, point.lon], at], { color: "#2471a3", weight: 2, dashArray: "6 4" }).addTo(planLayer);
    });
    html += "</ol>";
    if (picks.length) html += '<button type="button" id="reserve" class="primary">' + T("web.supplies.reserve") + "</button>";
    html += '<p id="reserve-result" aria-live="polite"></p>';
    box.innerHTML = html;
    if (picks.length) {
      $("reserve").addEventListener("click", reserve);
      map.fitBounds(L.latLngBounds(picks.map((s) => [s.position.lat, s.position.lon]).concat([[point.lat, point.lon]])).pad(0.2));
    }
  }

  async function reserve() {
    const lines = [];
    for (const s of lastPlan.stockpiles) {
      for (const [item, quantity] of Object.entries(s.take)) lines.push({ stockpile: s.code, item: item, quantity: quantity });
    }
    const out = $("reserve-result");
    try {
      const reservation = await G.api("/api/v1/supplies/reservations", { method: "POST", json: { lines: lines } });
      out.className = "ok";
      out.textContent = T("web.supplies.reserved", { id: reservation.id });
      $("reserve").disabled = true;
    } catch (e) {
      out.className = "error";
      out.textContent = e.message;
    }
  }
})();
