// The door's traffic with the server. Every write (a check-in, a gift) goes into a queue kept on
// the tablet (store.js) with its one-time token, and is sent in the order the writes were made
// until the server answers; without an answer it is sent again after a growing pause. The same
// token sent twice is written once, so a retry after a timeout is safe. Reads (the guest list,
// the conflicts) go through getJSON. A sign-in that has run out stops both until it is renewed.
import { deleteEntry, loadQueue, saveEntry } from "./store.js";

const SEND_TIMEOUT = 8000;

let options = null;       // see start()
let entries = [];         // this event's waiting writes, oldest first
let running = null;       // the run of sends under way
let lastMade = 0;
let signedOut = false;

// A random UUID (version 4); crypto.randomUUID exists only on HTTPS, tablets may use plain HTTP.
export function uuid4() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => (x + 0x100).toString(16).slice(1)).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function online() { return navigator.onLine !== false; }
export function isSignedOut() { return signedOut; }
export function waitingWrites() { return entries; }
export function isSending() { return running !== null; }

// Is a write of this kind for this invitation waiting to be sent?
export function isWaiting(kind, invitationId) {
  return entries.some((e) => e.kind === kind && e.invitation_id === invitationId);
}

// The tablet's own name for itself, shown with the conflicts it made.
function device() {
  let name = localStorage.getItem("hxt-door-device");
  if (!name) {
    name = "T-" + uuid4().slice(0, 4).toUpperCase();
    localStorage.setItem("hxt-door-device", name);
  }
  return name;
}

function timeout() {
  if (!window.AbortController) { return undefined; }
  const controller = new AbortController();
  setTimeout(() => controller.abort(), SEND_TIMEOUT);
  return controller.signal;
}

function notSignedIn(response) {
  const out = response.type === "opaqueredirect" || response.status === 401;
  if (out !== signedOut) {
    signedOut = out;
    options.signedOutChanged();
  }
  return out;
}

// Load this event's waiting writes. options: eventId; url (where writes go); csrf() (the
// token to send); changed() (the queue changed); answered(entry, answer) (the server's answer
// {status, body}); signedOutChanged(); staleCsrf() (a promise of a fresh CSRF token's arrival).
export function start(given) {
  options = given;
  return loadQueue(options.eventId).then((loaded) => {
    entries = (loaded || []).sort((a, b) => a.queued_ms - b.queued_ms);
  });
}

// GET a JSON body; null when signed out or refused; rejects without an answer.
export function getJSON(url) {
  return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin",
                      redirect: "manual", signal: timeout() })
    .then((response) => (notSignedIn(response) || !response.ok ? null : response.json()));
}

// Queue a write; resolves with its entry once kept on the tablet.
export function enqueue(entry) {
  entry.token = uuid4();
  entry.event_id = options.eventId;
  entry.device = device();
  entry.queued = !online();
  entry.queued_ms = lastMade = Math.max(Date.now(), lastMade + 1);  // keeps the order
  entry.attempts = 0;
  entry.next_at = 0;
  entries.push(entry);
  options.changed();
  return saveEntry(entry).then(() => entry);
}

// Send the waiting writes now, not after their pauses.
export function sendSoon() { entries.forEach((e) => { e.next_at = 0; }); }

// Send the waiting writes in the order they were made; stop at the first without an answer.
// One run at a time: a write queued meanwhile is sent by the run under way.
export function drain() {
  if (!running) {
    running = sendWaiting().then(() => { running = null; }, () => { running = null; });
  }
  return running;
}

function backoff(attempts) {
  const base = Math.min(60000, 1000 * 2 ** attempts);
  return base / 2 + Math.random() * base / 2;
}

function drop(entry) {
  entries = entries.filter((e) => e.token !== entry.token);
  return deleteEntry(entry.token);
}

function sendWaiting() {
  const entry = entries[0];
  if (!entry || entry.next_at > Date.now() || !online() || signedOut) { return Promise.resolve(); }
  entry.sending = true;
  options.changed();
  return send(entry).then((answer) => {
    entry.sending = false;
    if (answer === "again") { return sendWaiting(); }
    if (!answer) {
      entry.attempts += 1;
      entry.queued = true;  // the staff did not see its answer: a refusal becomes a conflict
      entry.next_at = Date.now() + backoff(entry.attempts);
      return saveEntry(entry).then(options.changed);
    }
    return drop(entry).then(() => { options.changed(); options.answered(entry, answer); })
      .then(sendWaiting);
  });
}

// One write to the server: its answer {status, body}, "again" (send it again now), or null
// (no answer).
function send(entry) {
  const csrf = options.csrf();
  const body = new URLSearchParams();
  body.set("csrf_token", csrf);
  body.set("kind", entry.kind);
  body.set("token", entry.token);
  if (entry.invitation_id) { body.set("invitation_id", entry.invitation_id); }
  if (entry.code) { body.set("code", entry.code); }
  if (entry.companions !== undefined) { body.set("companions", entry.companions); }
  if (entry.table_id) { body.set("table_id", entry.table_id); }
  if (entry.override) { body.set("override", "y"); }
  if (entry.queued) { body.set("queued", "y"); }
  body.set("queued_ms", entry.queued_ms);
  body.set("device", entry.device);
  return fetch(options.url, { method: "POST", body, credentials: "same-origin", redirect: "manual",
                              headers: { Accept: "application/json", "X-CSRFToken": csrf },
                              signal: timeout() })
    .then((response) => {
      if (notSignedIn(response)) { return null; }
      if (response.status >= 500) { return null; }
      return response.json().then((json) => {
        if ("ok" in json) { return { status: response.status, body: json }; }
        if (response.status === 400 && !entry.csrfRetried) {  // an old page's CSRF token
          entry.csrfRetried = true;
          return options.staleCsrf().then(() => "again");
        }
        return { status: response.status, body: { ok: false, message: json.error || "" } };
      });
    })
    .catch(() => null);
}
