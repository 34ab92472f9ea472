/* What every gridgov page shares: messages, the signed-in user, calls to the JSON API. */
"use strict";

window.Gridgov = (function () {
  const config = window.GRIDGOV || { lang: "zh", messages: {} };
  const TOKEN = "gridgov.token";
  const USER = "gridgov.user";

  /** The message for key in the page's language, with {placeholders} filled. */
  function T(key, params) {
    let text = config.messages[key];
    if (text === undefined) return key;
    for (const [name, value] of Object.entries(params || {})) {
      text = text.split("{" + name + "}").join(String(value));
    }
    return text;
  }

  function esc(value) {
    return String(value === null || value === undefined ? "" : value).replace(
      /[&<>"']/g,
      (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]
    );
  }

  const token = () => localStorage.getItem(TOKEN);
  function user() {
    try {
      return JSON.parse(localStorage.getItem(USER) || "null");
    } catch (e) {
      return null;
    }
  }
  function signIn(accessToken, me) {
    localStorage.setItem(TOKEN, accessToken);
    localStorage.setItem(USER, JSON.stringify(me));
  }
  function signOut() {
    localStorage.removeItem(TOKEN);
    localStorage.removeItem(USER);
  }

  /** Send to the sign-in page unless signed in; true when the page may go on. */
  function requireLogin() {
    if (token()) return true;
    location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
    return false;
  }

  /** A refused request: every error is an RFC 9457 problem (application/problem+json)
   * {type, title, status, detail, code, errors: [{field, reason, type}], ...}. */
  class ApiError extends Error {
    constructor(status, message, problem) {
      super(message);
      this.status = status;
      this.problem = problem && typeof problem === "object" ? problem : null;
      this.code = this.problem ? this.problem.code : null;
      this.fields = (this.problem && this.problem.errors) || [];
    }
  }

  /** The API's own message for a refused request (it names the field and the reason). */
  function messageOf(status, body) {
    if (body && typeof body.detail === "string" && body.detail) return body.detail;
    return T("web.error.http", { status: status });
  }

  /** Call the API as the signed-in user; JSON in and out. Throws ApiError when refused and
   * TypeError when the network is down (fetch's own), so callers can tell them apart. */
  async function api(path, options) {
    const opts = Object.assign({ method: "GET" }, options || {});
    const background = opts.background; // a 401 is the caller's to show, not a jump to sign in
    delete opts.background;
    const headers = Object.assign({ "Accept-Language": config.lang }, opts.headers || {});
    if (token()) headers.Authorization = "Bearer " + token();
    if (opts.json !== undefined) {
      headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(opts.json);
      delete opts.json;
    }
    opts.headers = headers;
    let response;
    try {
      response = await fetch(path, opts);
    } catch (e) {
      throw new TypeError(T("web.error.offline")); // still a TypeError: callers tell "offline" by it
    }
    const text = await response.text();
    let body = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch (e) {
      body = text;
    }
    if (response.status === 401 && !background) {
      signOut();
      requireLogin();
    }
    if (!response.ok) throw new ApiError(response.status, messageOf(response.status, body), body);
    return body;
  }

  function query(params) {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      if (value === null || value === undefined || value === "") continue;
      if (Array.isArray(value)) value.forEach((v) => search.append(key, v));
      else search.append(key, value);
    }
    return search.toString();
  }

  function formatTime(iso) {
    if (!iso) return "—";
    const date = new Date(iso);
    return date.toLocaleString(config.lang === "en" ? "en-GB" : "zh-CN", {
      hour12: false,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
    });
  }

  function formatDistance(metres) {
    return metres >= 1000
      ? T("web.unit.km", { value: (metres / 1000).toFixed(1) })
      : T("web.unit.m", { value: Math.round(metres) });
  }

  /** A random v4 UUID; works on plain-HTTP intranets, where crypto.randomUUID does not. */
  function uuid() {
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function statusLabel(status) {
    return T("status." + status);
  }

  /** What happened to an incident: a move of its life cycle, or another event (alerts, overdue). */
  function eventLabel(action) {
    const move = "move." + action;
    if (config.messages[move] !== undefined) return T(move);
    return T("web.event." + action);
  }

  // Colours by status, shared by the map, the lists and the incident page.
  const STATUS_COLOURS = {
    reported: "#e67e22",
    dispatched: "#2471a3",
    accepted: "#7d3c98",
    rejected: "#c0392b",
    resolved: "#229954",
    closed: "#7f8c8d",
  };

  /** The header: who is signed in, and signing out. */
  function showUser() {
    const me = user();
    const who = document.getElementById("who");
    const out = document.getElementById("sign-out");
    if (!who || !out) return;
    if (me && token()) {
      who.textContent = me.display_name || me.username;
      out.hidden = false;
      out.addEventListener("click", () => signOut());
    }
  }
  document.addEventListener("DOMContentLoaded", showUser);

  // Every map's zoom buttons speak the page's language (Leaflet's own titles are English).
  if (window.L) L.Control.Zoom.mergeOptions({ zoomInTitle: T("web.map.zoom_in"), zoomOutTitle: T("web.map.zoom_out") });

  /** A map with no tiles: the city's streets and boundaries are its background. */
  function addBackground(map, options) {
    const opts = options || {};
    const tiles = config.tiles;
    if (tiles && tiles.url) {
      L.tileLayer(tiles.url, { attribution: tiles.attribution, subdomains: tiles.subdomains, referrerPolicy: "strict-origin" }).addTo(map);
    }
    api("/api/v1/map/streets")
      .then((fc) =>
        L.geoJSON(fc, { style: { color: "#b9c0c8", weight: 1, opacity: 0.9 }, interactive: false }).addTo(map)
      )
      .catch(() => {});
    api("/api/v1/map/areas?level=" + (opts.level || "street"))
      .then((fc) =>
        L.geoJSON(fc, {
          style: { color: "#5d6d7e", weight: 1.5, fill: false, dashArray: "4 3" },
          interactive: false,
        }).addTo(map)
      )
      .catch(() => {});
  }

  /** Keep this page, and what it loaded from the service, for opening without a network
   * (the service worker, /sw.js). Browsers without service workers simply do not. */
  function keepOffline() {
    if (!("serviceWorker" in navigator)) return;
    const send = () =>
      navigator.serviceWorker
        .register("/sw.js")
        .then(() => navigator.serviceWorker.ready)
        .then((registration) => {
          const loaded = performance
            .getEntriesByType("resource")
            .map((entry) => entry.name)
            .filter((url) => url.startsWith(location.origin + "/static/"));
          registration.active.postMessage({ keep: [location.pathname + location.search, ...loaded] });
        })
        .catch(() => {});
    if (document.readyState === "complete") send();
    else window.addEventListener("load", send);
  }

  return {
    config,
    T,
    esc,
    token,
    user,
    signIn,
    signOut,
    requireLogin,
    api,
    ApiError,
    query,
    formatTime,
    formatDistance,
    uuid,
    statusLabel,
    eventLabel,
    STATUS_COLOURS,
    addBackground,
    keepOffline,
  };
})();
