// What the door tablet keeps, in IndexedDB ("hxt-door"): the guest list (roster) of each event
// open for check-in, by event id, and the writes waiting to be sent (queue), by one-time token.
const NAME = "hxt-door";
let opened = null;

export const available = Boolean(window.indexedDB);

function database() {
  if (!opened) {
    opened = new Promise((resolve, reject) => {
      const request = indexedDB.open(NAME, 1);
      request.onupgradeneeded = () => {
        request.result.createObjectStore("rosters", { keyPath: "event_id" });
        request.result.createObjectStore("queue", { keyPath: "token" }).createIndex("event", "event_id");
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }
  return opened;
}

// Run `work(objectStore)` in a transaction; resolves with its request's result once committed.
function run(storeName, mode, work) {
  return database().then((db) => new Promise((resolve, reject) => {
    const tx = db.transaction(storeName, mode);
    const request = work(tx.objectStore(storeName));
    tx.oncomplete = () => resolve(request ? request.result : undefined);
    tx.onerror = tx.onabort = () => reject(tx.error);
  }));
}

export function loadRoster(eventId) { return run("rosters", "readonly", (s) => s.get(eventId)); }
export function saveRoster(roster) { return run("rosters", "readwrite", (s) => s.put(roster)); }
export function deleteRoster(eventId) { return run("rosters", "readwrite", (s) => s.delete(eventId)); }

export function loadQueue(eventId) {
  return run("queue", "readonly", (s) => s.index("event").getAll(eventId));
}
export function saveEntry(entry) { return run("queue", "readwrite", (s) => s.put(entry)); }
export function deleteEntry(token) { return run("queue", "readwrite", (s) => s.delete(token)); }

// The list of doors: the guest lists of events no longer open here leave the tablet. A tablet
// that never kept one is left without the database.
export function keepRostersOf(openEvents) {
  const request = indexedDB.open(NAME, 1);
  request.onupgradeneeded = () => { request.transaction.abort(); };
  request.onsuccess = () => {
    const rosters = request.result.transaction("rosters", "readwrite").objectStore("rosters");
    rosters.getAllKeys().onsuccess = (event) => {
      event.target.result.forEach((id) => { if (!openEvents.includes(id)) { rosters.delete(id); } });
    };
  };
}
