/* The service worker: pages a grid head needs in the field open without a network.
 *
 * A page that should work offline (the report page) sends the worker the addresses it loaded
 * (G.keepOffline); the worker keeps them. Then:
 *   - such a page: the network first, the kept copy when the network fails or is slow;
 *   - the service's scripts and styles: the kept copy at once, refreshed in the background;
 *   - reference data the pages read (categories, the city's outline and streets): the network
 *     first, the kept copy offline;
 *   - everything else (reports, incidents, sign-in, any POST): untouched, straight to the
 *     network, as if there were no worker. Reports made offline wait in the page's outbox.
 */
"use strict";

const CACHE = "gridgov-offline-v1";
const SLOW_NETWORK_MS = 6000;
const REFERENCE = [/^\/api\/v1\/categories$/, /^\/api\/v1\/map\/areas$/, /^\/api\/v1\/map\/streets$/];

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("message", (event) => {
  const urls = (event.data && event.data.keep) || [];
  const same = urls.filter((u) => new URL(u, self.location.href).origin === self.location.origin);
  event.waitUntil(
    caches.open(CACHE).then((cache) => Promise.all(same.map((u) => cache.add(u).catch(() => null)))),
  );
});

function kept(request) {
  return caches.open(CACHE).then((cache) => cache.match(request, { ignoreVary: true }));
}

function keep(request, response) {
  if (response && response.ok) {
    const copy = response.clone();
    caches.open(CACHE).then((cache) => cache.put(request, copy));
  }
  return response;
}

/** The network, unless it fails or takes longer than SLOW_NETWORK_MS and a copy is kept. */
function networkFirst(request) {
  const network = fetch(request).then((response) => keep(request, response));
  const slow = new Promise((resolve) => setTimeout(resolve, SLOW_NETWORK_MS));
  const fallback = () => kept(request).then((copy) => copy || network);
  return Promise.race([network.catch(fallback), slow.then(() => kept(request).then((copy) => copy || network))]);
}

function keptFirst(request) {
  const network = fetch(request).then((response) => keep(request, response));
  return kept(request).then((copy) => {
    if (copy) {
      network.catch(() => null); // refreshed for next time; offline: nothing to do
      return copy;
    }
    return network;
  });
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    event.respondWith(kept(request).then((copy) => (copy ? networkFirst(request) : fetch(request))));
  } else if (url.pathname.startsWith("/static/")) {
    event.respondWith(keptFirst(request));
  } else if (REFERENCE.some((pattern) => pattern.test(url.pathname))) {
    event.respondWith(networkFirst(request));
  }
});
