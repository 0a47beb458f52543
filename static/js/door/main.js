// The door screen (签到台) on a bad network: find or scan a guest, check them in, give the
// attendance gift, start a deal — without page loads, online or not.
//
// - The event's guest list (names, pinyin, masked phones, card codes, seats) is kept on the
//   tablet while the event is open for check-in (store.js) and searched here (search.js); it is
//   deleted when the server says the event is closed.
// - Every write (a check-in, a gift) is queued with its one-time token and sent until the
//   server answers (queue.js). A queued write the server refuses is recorded there as a
//   conflict; every tablet lists them.
// - view.js draws the screen. A service worker (/checkin/sw.js) keeps this page and its files
//   available offline.
// No inline scripts: the page passes its URLs and words in data- attributes.
import { CARD, byCode, search } from "./search.js";
import * as queue from "./queue.js";
import * as store from "./store.js";
import * as view from "./view.js";

const ROSTER_EVERY = 300000;  // and whenever a search finds nobody
const CONFLICTS_EVERY = 15000;

const app = document.getElementById("door-app");
if (app && store.available) { start(); }

function start() {
  const eventId = Number(app.dataset.eventId);
  const urls = JSON.parse(app.dataset.urls);
  const form = document.getElementById("scan-form");
  const input = document.querySelector("[data-scan-input]");
  let csrf = form.querySelector("input[name=csrf_token]").value;
  let roster = null;        // {event_id, event, gift, tables, guests, fetched}
  let shown = null;         // what the result area is about: {token, local}
  let rosterAt = 0, conflictsAt = 0, searchTimer = null;
  view.setWords(JSON.parse(app.dataset.strings));

  function guests() { return roster ? roster.guests : []; }
  function guestBy(field, value) { return guests().find((g) => g[field] === value) || null; }
  function tableName(id) {
    const table = roster && id ? roster.tables.find((t) => t.id === id) : null;
    return table ? table.name : "";
  }

  function showNetwork() {
    view.showNetwork({ signedOut: queue.isSignedOut(), online: queue.online(),
                       guests: roster ? roster.guests.length : null });
    showQueue();
  }
  function showQueue() { view.showQueue(queue.waitingWrites(), queue.online()); }
  function showConflicts(list) {
    if (!list) { return; }
    conflictsAt = Date.now();
    view.showConflicts(list);
  }

  // --- The guest list ---------------------------------------------------------------------
  function saveRoster() { return roster ? store.saveRoster(roster) : Promise.resolve(); }

  // The list is for an open event only: when the server says it closed, it goes, and so does
  // the kept copy of this page.
  function forgetRoster() {
    roster = null;
    const done = store.deleteRoster(eventId);
    if (window.caches) {
      caches.keys().then((names) => names.forEach((name) => {
        caches.open(name).then((cache) => cache.delete(location.href));
      }));
    }
    return done;
  }

  function refreshRoster() {
    if (!queue.online()) { return Promise.resolve(); }
    rosterAt = Date.now();
    return queue.getJSON(urls.roster).then((body) => {
      if (!body) { return undefined; }
      csrf = body.csrf || csrf;
      showConflicts(body.conflicts);
      document.getElementById("door-status").textContent = body.event.status_label;
      if (!body.event.open) {
        return forgetRoster().then(view.showClosed);
      }
      roster = { event_id: eventId, event: body.event, gift: body.gift, tables: body.tables,
                 guests: body.guests, fetched: Date.now() };
      body.guests.forEach((guest) => {  // names sent once each, filled in here
        guest.table = tableName(guest.table_id);
        guest.inviter = body.people[guest.inviter_id] || "";
        guest.status_label = body.statuses[guest.status] || guest.status;
      });
      return saveRoster();
    }).catch(() => { /* offline or no answer: keep the kept list */ }).then(showNetwork);
  }

  // --- Finding ----------------------------------------------------------------------------
  function showMatches(text) {
    const found = search(guests(), text);
    shown = null;
    if (found.length) {
      const done = (g) => g.checked_in || queue.isWaiting("check_in", g.invitation_id);
      view.showMatches(found, { tables: roster.tables, checkIn, done, giftOwed, giveGift: giftTo });
      return;
    }
    if (!text.trim()) {
      view.clear();
      return;
    }
    view.showNoMatch(text.trim(), urls.walk_in);
    if (queue.online() && Date.now() - rosterAt > 5000) {  // someone invited since it was kept?
      refreshRoster().then(() => {
        if (input.value === text && search(guests(), text).length) { showMatches(text); }
      });
    }
  }

  // Enter in the box: a scanner has typed a card's code (check in at once), or staff typed a
  // search (show the matches).
  function scanned() {
    clearTimeout(searchTimer);
    const text = input.value.trim();
    if (!text) { return; }
    const guest = byCode(guests(), text);
    if (guest) {
      checkIn(guest, { companions: guest.companions, table_id: 0, override: false });
      return;
    }
    if (CARD.test(text)) {
      checkInByCard(text);
      return;
    }
    showMatches(text);
  }

  function nextScan() {
    input.value = "";
    input.focus();
  }

  // --- Answers ----------------------------------------------------------------------------
  function showResult(facts) {
    // The order form needs the network.
    const deal = urls.deal && facts.customer_id && queue.online()
      ? urls.deal.replace("/new/0", "/new/" + facts.customer_id) : "";
    view.showResult(facts, { giveGift, deal });
  }

  // What the tablet knows of a guest, as a result, before (or without) the server's answer.
  function localFacts(guest, extra) {
    const gift = roster && roster.gift ? { ...roster.gift,
      issued: guest.gift_given || queue.isWaiting("gift", guest.invitation_id) } : null;
    return { name: guest.name, customer_id: guest.customer_id, invitation_id: guest.invitation_id,
             table: guest.table, inviter: guest.inviter, companions: guest.companions,
             walk_in: guest.walk_in, gift, guest, ...extra };
  }

  // The server's answer as a result: a check-in done, or the one that came first; under a
  // gift, the check-in it belongs to, and why the gift was not written if it was not.
  function serverFacts(body, entry) {
    const c = body.check_in;
    const guest = guestBy("invitation_id", c.invitation_id);
    const facts = { name: c.name, customer_id: c.customer_id, invitation_id: c.invitation_id,
                    table: c.table, inviter: c.inviter, companions: c.companions, at: c.at,
                    by: c.by, walk_in: guest ? guest.walk_in : false, gift: body.gift, guest,
                    already: !body.ok && entry.kind === "check_in" };
    if (entry.kind === "gift") {
      facts.state = view.say("checked_in_at", { time: c.at, who: c.by });
      if (!body.ok) {
        facts.note = view.say("refused", { message: body.message });
        facts.refused = true;
      }
    }
    return facts;
  }

  // --- Writes -----------------------------------------------------------------------------
  function checkIn(guest, choice) {
    if (guest.checked_in) {
      shown = null;
      const came = guest.checked_in;
      showResult(localFacts(guest, { already: true, at: came.at, by: came.by }));
      nextScan();
      return;
    }
    if (queue.isWaiting("check_in", guest.invitation_id)) {
      showResult(localFacts(guest, { waiting: true, note: view.say("queued_check_in") }));
      nextScan();
      return;
    }
    const table = choice.table_id ? tableName(choice.table_id) : guest.table;
    queue.enqueue({ kind: "check_in", invitation_id: guest.invitation_id, name: guest.name,
                    companions: choice.companions, table_id: choice.table_id,
                    override: choice.override })
      .then((entry) => answerOrWait(entry, localFacts(guest, {
        waiting: true, note: view.say("queued_check_in"), companions: choice.companions, table })));
    nextScan();
  }

  function checkInByCard(code) {
    queue.enqueue({ kind: "check_in", code, name: "" }).then((entry) => answerOrWait(entry, null));
    nextScan();
  }

  // The attendance gift a guest who is in has not had yet (null: none owed, or no gift).
  function giftOwed(guest) {
    const gift = roster && roster.gift;
    if (!gift || !guest.checked_in || guest.gift_given || (gift.invited_only && guest.walk_in)
        || queue.isWaiting("gift", guest.invitation_id)) { return null; }
    return gift;
  }

  function giftTo(guest) {
    const came = guest.checked_in;
    giveGift(localFacts(guest, { already: true, at: came.at, by: came.by,
                                 companions: came.companions }));
  }

  function giveGift(facts) {
    queue.enqueue({ kind: "gift", invitation_id: facts.invitation_id, name: facts.name })
      .then((entry) => {
        const guest = facts.guest || guestBy("invitation_id", facts.invitation_id);
        answerOrWait(entry, { ...facts, waiting: true, note: view.say("queued_gift"),
                              gift: { ...facts.gift, issued: true }, guest });
      });
  }

  // Online, the staff wait for the server's answer (a moment); offline, or without an answer,
  // the tablet's own result is shown and the write waits in the queue.
  function answerOrWait(entry, local) {
    shown = { token: entry.token, local };
    if (queue.online() && !queue.isSignedOut()) {
      view.showSending(entry.name || entry.code);
      queue.drain().then(() => {
        if (shown && shown.token === entry.token && queue.waitingWrites().includes(entry)) {
          showLocal(entry, local);
        }
      });
    } else {
      showLocal(entry, local);
    }
  }

  function showLocal(entry, local) {
    showResult(local || { name: entry.code, waiting: true, note: view.say("unknown_card") });
  }

  function answered(entry, answer) {
    const body = answer.body;
    const guest = body.check_in ? guestBy("invitation_id", body.check_in.invitation_id) : null;
    if (guest) {
      guest.checked_in = { at: body.check_in.at, by: body.check_in.by,
                           companions: body.check_in.companions };
      if (body.gift) { guest.gift_given = body.gift.issued; }
      if (roster && body.gift) {
        roster.gift.left = body.gift.left;
        roster.gift.low = body.gift.low;
      }
      saveRoster();
    }
    if (body.conflict) { conflictsAt = 0; }
    if (!shown || shown.token !== entry.token) { return; }
    shown = null;
    if (body.check_in) {
      showResult(serverFacts(body, entry));
    } else {
      view.showRefused(body.message);
    }
  }

  // --- Wiring -----------------------------------------------------------------------------
  form.addEventListener("submit", (event) => { event.preventDefault(); scanned(); });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") { event.preventDefault(); scanned(); }
  });
  input.addEventListener("input", () => {
    clearTimeout(searchTimer);
    const text = input.value;
    searchTimer = setTimeout(() => showMatches(text), 150);
  });
  document.getElementById("door-send-now").addEventListener("click", () => {
    queue.sendSoon();
    queue.drain();
  });
  window.addEventListener("online", () => {
    queue.sendSoon();
    showNetwork();
    refreshRoster().then(queue.drain).then(() => { conflictsAt = 0; });
  });
  window.addEventListener("offline", showNetwork);

  setInterval(() => {
    showQueue();
    if (!queue.online()) { return; }
    if (queue.waitingWrites().length && !queue.isSending()) { queue.drain(); }
    if (Date.now() - rosterAt > ROSTER_EVERY) { refreshRoster(); }
    if (Date.now() - conflictsAt > CONFLICTS_EVERY && !queue.isSending()) {
      conflictsAt = Date.now();
      queue.getJSON(urls.conflicts).then((body) => {
        if (!body) { return; }
        showConflicts(body.conflicts);
        if (!body.open && roster) { forgetRoster().then(view.showClosed); }
      }).catch(() => {});
    }
  }, 1000);

  if ("serviceWorker" in navigator && urls.worker) {
    navigator.serviceWorker.register(urls.worker, { scope: urls.scope })
      .then(() => navigator.serviceWorker.ready)
      .then((registration) => {
        // Keep this page and the files it loaded (the modules too), for a reload without the
        // network.
        const files = [location.href];
        const loaded = "link[rel=stylesheet], link[rel=icon], link[rel=modulepreload], script[src]";
        document.querySelectorAll(loaded).forEach((node) => files.push(node.href || node.src));
        if (registration.active) { registration.active.postMessage({ keep: files }); }
      })
      .catch(() => { /* no service worker (plain HTTP off localhost): online only */ });
  }

  Promise.all([store.loadRoster(eventId), queue.start({
    eventId, url: urls.replay, csrf: () => csrf, changed: showQueue, answered,
    signedOutChanged: showNetwork,
    staleCsrf: () => { rosterAt = 0; return refreshRoster(); },
  })]).then(([kept]) => {
    roster = kept || null;
    showNetwork();
    return refreshRoster();
  }).then(queue.drain);
}
