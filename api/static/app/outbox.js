/* The phone's outbox: reports wait here (in IndexedDB, photos included) until the server
 * has acknowledged them. Each carries the idempotency key it was given when it was written,
 * so sending it again after a lost answer never makes a second incident. */
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
  async function all() {
    const reports = await run("readonly", (store) => store.getAll());
    return (reports || []).sort((a, b) => a.created_at.localeCompare(b.created_at));
  }

  let flushing = null;
  let again = false;

  /** Send what waits, oldest first. ``send(report)`` answers "offline" (which ends the
   * round: the network is down) or anything else (go on with the next one). One round at a time: a call during a round makes
   * the round go once more, so a report written meanwhile is not left waiting. */
  function flush(send) {
    if (flushing) {
      again = true;
      return flushing;
    }
    flushing = (async () => {
      try {
        do {
          again = false;
          for (const report of await all()) {
            if (report.refused) continue;
            if (!(await get(report.key))) continue; // discarded while the round went on
            if ((await send(report)) === "offline") return;
          }
        } while (again);
      } finally {
        flushing = null;
      }
    })();
    return flushing;
  }

  return { put, remove, get, all, flush };
})();
