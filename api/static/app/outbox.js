/* The phone's outbox: reports wait here (in IndexedDB, photos included) until the server
 * has acknowledged them. Each carries the idempotency key it was given when it was written,
 * so sending it again after a lost answer never makes a second incident. Other pages queue
 * their own kind of item (``kind``: a doorstep visit is "doorstep"); an item without one is
 * a report, and each page lists and sends only its own kind. */
"use strict";

window.Outbox = (function () {
  const DB = "gridgov";
  const STORE = "outbox";
  let opened = null;

  function db() {
    if (!opened) {
      opened = new Promise((resolve, reject) => {
        const request = indexedDB.open(DB, 1);
        request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: "key" });
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
    }
    return opened;
  }

  async function run(mode, action) {
    const database = await db();
    return new Promise((resolve, reject) => {
      const tx = database.transaction(STORE, mode);
      const result = action(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(result && "result" in result ? result.result : undefined);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error); // e.g. the phone's storage is full
    });
  }

  const put = (report) => run("readwrite", (store) => store.put(report));
  const remove = (key) => run("readwrite", (store) => store.delete(key));
  const get = (key) => run("readonly", (store) => store.get(key));
  async function all(kind) {
    const wanted = kind || "report";
    const items = (await run("readonly", (store) => store.getAll())) || [];
    return items
      .filter((item) => (item.kind || "report") === wanted)
      .sort((a, b) => a.created_at.localeCompare(b.created_at));
  }

  const flushing = {};
  const again = {};

  /** Send what waits of one kind (reports when none is named), oldest first.
   * ``send(item)`` answers "offline" (which ends the round: the network is down) or anything
   * else (go on with the next one). One round at a time per kind: a call during a round makes
   * the round go once more, so an item written meanwhile is not left waiting. */
  function flush(send, kind) {
    const name = kind || "report";
    if (flushing[name]) {
      again[name] = true;
      return flushing[name];
    }
    flushing[name] = (async () => {
      try {
        do {
          again[name] = false;
          for (const item of await all(name)) {
            if (item.refused) continue;
            if (!(await get(item.key))) continue; // discarded while the round went on
            if ((await send(item)) === "offline") return;
          }
        } while (again[name]);
      } finally {
        flushing[name] = null;
      }
    })();
    return flushing[name];
  }

  return { put, remove, get, all, flush };
})();
