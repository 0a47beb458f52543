// The door screen (签到台) on a bad network: find or scan a guest, check them in, give the
// attendance gift, start a deal — without page loads, online or not.
//
// - The event's guest list (names, pinyin, masked phones, card codes, seats) is cached in
//   IndexedDB while the event is open for check-in, and searched here; it is deleted when the
//   server says the event is closed.
// - Every write (a check-in, a gift) goes into a queue in IndexedDB with its one-time token and
//   is sent, in order, until the server answers; without an answer it is sent again with growing
//   pauses. The same token sent twice is written once, so a retry after a timeout is safe.
// - A queued write the server refuses is recorded there as a conflict; every tablet lists them.
// - A service worker (/checkin/sw.js) keeps this page and its files available offline.
// No inline scripts: the page passes its URLs and words in data- attributes. Loaded with defer
// after app.js, whose uuid4() makes the tokens.
(function () {
  "use strict";
  var app = document.getElementById("door-app");
  var index = document.querySelector("[data-door-events]");
  if (!window.indexedDB || !(app || index)) { return; }
  if (!app) {
    // The list of doors: the guest lists of events no longer open here leave the tablet.
    var open = JSON.parse(index.dataset.doorEvents);
    var request = indexedDB.open("hxt-door", 1);
    request.onupgradeneeded = function () { request.transaction.abort(); };  // none kept yet
    request.onsuccess = function () {
      var store = request.result.transaction("rosters", "readwrite").objectStore("rosters");
      store.getAllKeys().onsuccess = function (event) {
        event.target.result.forEach(function (id) { if (open.indexOf(id) === -1) { store.delete(id); } });
      };
    };
    return;
  }
  var eventId = Number(app.dataset.eventId);
  var urls = JSON.parse(app.dataset.urls);
  var words = JSON.parse(app.dataset.strings);
  var form = document.getElementById("scan-form");
  var input = document.querySelector("[data-scan-input]");
  var door = document.getElementById("door");
  var csrf = form.querySelector("input[name=csrf_token]").value;
  var CARD = /^[A-Za-z0-9_-]{24,40}$/;  // what a card's QR code holds
  var SEND_TIMEOUT = 8000;
  var ROSTER_EVERY = 300000;  // and whenever a search finds nobody
  var CONFLICTS_EVERY = 15000;

  var roster = null;        // {event, gift, tables, guests, fetched}
  var queue = [];           // this event's waiting writes, oldest first
  var shown = null;         // what the result area is about: {token, guest}
  var signedOut = false;
  var rosterAt = 0, conflictsAt = 0, lastMade = 0, running = null, searchTimer = null;

  function say(key, values) {
    return String(words[key]).replace(/\{(\w+)\}/g, function (all, name) {
      return values && name in values ? String(values[name]) : all;
    });
  }

  function device() {
    var name = localStorage.getItem("hxt-door-device");
    if (!name) {
      name = "T-" + uuid4().slice(0, 4).toUpperCase();
      localStorage.setItem("hxt-door-device", name);
    }
    return name;
  }

  function online() { return navigator.onLine !== false; }

  // --- IndexedDB ----------------------------------------------------------------------------
  var dbReady = new Promise(function (resolve, reject) {
    var request = indexedDB.open("hxt-door", 1);
    request.onupgradeneeded = function () {
      request.result.createObjectStore("rosters", { keyPath: "event_id" });
      request.result.createObjectStore("queue", { keyPath: "token" }).createIndex("event", "event_id");
    };
    request.onsuccess = function () { resolve(request.result); };
    request.onerror = function () { reject(request.error); };
  });

  function idb(storeName, mode, work) {
    return dbReady.then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(storeName, mode);
        var request = work(tx.objectStore(storeName));
        tx.oncomplete = function () { resolve(request ? request.result : undefined); };
        tx.onerror = tx.onabort = function () { reject(tx.error); };
      });
    });
  }

  function saveRoster() {
    return roster ? idb("rosters", "readwrite", function (s) { return s.put(roster); }) : Promise.resolve();
  }
  function saveEntry(entry) { return idb("queue", "readwrite", function (s) { return s.put(entry); }); }
  function dropEntry(entry) {
    queue = queue.filter(function (e) { return e.token !== entry.token; });
    return idb("queue", "readwrite", function (s) { return s.delete(entry.token); });
  }

  // The cached list is for an open event only: when the server says it closed, it goes.
  function forgetRoster() {
    roster = null;
    var done = idb("rosters", "readwrite", function (s) { return s.delete(eventId); });
    if (window.caches) {
      caches.keys().then(function (names) {
        names.forEach(function (name) { caches.open(name).then(function (c) { c.delete(location.href); }); });
      });
    }
    return done;
  }

  // --- The guest list -----------------------------------------------------------------------
  function refreshRoster() {
    if (!online()) { return Promise.resolve(); }
    rosterAt = Date.now();
    return request(urls.roster).then(function (body) {
      if (!body) { return; }
      csrf = body.csrf || csrf;
      showConflicts(body.conflicts);
      document.getElementById("door-status").textContent = body.event.status_label;
      if (!body.event.open) {
        return forgetRoster().then(function () { showClosed(); });
      }
      roster = { event_id: eventId, event: body.event, gift: body.gift, tables: body.tables,
                 guests: body.guests, fetched: Date.now() };
      body.guests.forEach(function (guest) {  // names sent once each, filled in here
        guest.table = tableName(guest.table_id);
        guest.inviter = body.people[guest.inviter_id] || "";
        guest.status_label = body.statuses[guest.status] || guest.status;
      });
      return saveRoster();
    }).catch(function () { /* offline or no answer: keep the cached list */ }).then(showNetwork);
  }

  function request(url) {
    return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin",
                        redirect: "manual", signal: timeout() })
      .then(function (response) {
        if (response.type === "opaqueredirect" || response.status === 401) {
          signedOut = true;
          showNetwork();
          return null;
        }
        signedOut = false;
        return response.ok ? response.json() : null;
      });
  }

  function timeout() {
    if (!window.AbortController) { return undefined; }
    var controller = new AbortController();
    setTimeout(function () { controller.abort(); }, SEND_TIMEOUT);
    return controller.signal;
  }

  function guestBy(field, value) {
    if (!roster) { return null; }
    for (var i = 0; i < roster.guests.length; i++) {
      if (roster.guests[i][field] === value) { return roster.guests[i]; }
    }
    return null;
  }

  function tableName(id) {
    if (!roster || !id) { return ""; }
    var table = roster.tables.filter(function (t) { return t.id === id; })[0];
    return table ? table.name : "";
  }

  // Search as on the server: a card's code, a phone tail, a name, pinyin or initials.
  function search(text) {
    text = text.trim();
    if (!text || !roster) { return []; }
    var exact = guestBy("code", text);
    if (exact) { return [exact]; }
    var digits = text.replace(/[\s-]/g, "").replace(/^\+86/, "");
    var lower = text.toLowerCase().replace(/ /g, "");
    var test;
    if (/^\d{3,}$/.test(digits)) {
      test = function (g) {
        var phone = g.phone.replace(/\*/g, "");  // 138****8000 → the 3 + 4 digits we hold
        if (digits.length >= 11) { return phone === digits.slice(0, 3) + digits.slice(-4); }
        return phone.slice(-Math.min(digits.length, 4)) === digits.slice(-4);
      };
    } else if (/^[a-z]+$/.test(lower)) {
      test = function (g) { return g.initials.indexOf(lower) === 0 || g.pinyin.indexOf(lower) === 0; };
    } else {
      test = function (g) { return g.name.indexOf(text) !== -1; };
    }
    return roster.guests.filter(test).slice(0, 12);
  }

  function waiting(kind, guest) {
    return queue.some(function (e) { return e.kind === kind && e.invitation_id === guest.invitation_id; });
  }

  // --- Drawing ------------------------------------------------------------------------------
  function fromTemplate(id) {
    return document.getElementById(id).content.firstElementChild.cloneNode(true);
  }
  function slot(node, name) { return node.querySelector("[data-slot=" + name + "]"); }
  function put(node, name, text) {
    var el = slot(node, name);
    el.textContent = text;
    el.hidden = !text;
    return el;
  }

  function showMatches(text) {
    var guests = search(text);
    door.textContent = "";
    shown = null;
    if (!guests.length) {
      if (text.trim()) {
        var none = document.createElement("p");
        none.className = "text-muted fs-5";
        none.dataset.testid = "no-match";
        none.textContent = say("no_match", { text: text.trim() });
        door.appendChild(none);
        if (online() && Date.now() - rosterAt > 5000) {  // someone invited since we cached?
          refreshRoster().then(function () { if (input.value === text && search(text).length) { showMatches(text); } });
        }
      }
      return;
    }
    var row = document.createElement("div");
    row.className = "row g-3";
    guests.forEach(function (guest) { row.appendChild(matchCard(guest)); });
    door.appendChild(row);
  }

  function matchCard(guest) {
    var card = fromTemplate("door-match-template");
    put(card, "name", guest.name);
    put(card, "phone", guest.phone);
    put(card, "inviter", say("invited_by", { name: guest.inviter }));
    put(card, "table", guest.table || say("no_table_yet"));
    put(card, "expected", say("expected", { n: guest.companions }));
    slot(card, "walk-in").hidden = !guest.walk_in;
    var status = put(card, "status", guest.status_label);
    var checkForm = slot(card, "form");
    var done = guest.checked_in || waiting("check_in", guest);
    if (done) {
      status.className = "badge text-bg-success";
      put(card, "checked-in", guest.checked_in ? say("checked_in_at", guest.checked_in) : say("queued_check_in"));
      checkForm.remove();
      return card;
    }
    checkForm.elements.companions.value = guest.companions;
    var select = checkForm.elements.table_id;
    roster.tables.forEach(function (t) {
      var option = document.createElement("option");
      option.value = t.id;
      option.textContent = t.name + "（" + t.seats + "）";
      select.appendChild(option);
    });
    checkForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = checkForm.querySelector("button");
      if (button.disabled) { return; }
      button.disabled = true;
      var companions = parseInt(checkForm.elements.companions.value, 10);
      checkIn(guest, {
        companions: isNaN(companions) ? guest.companions : Math.max(0, Math.min(10, companions)),
        table_id: Number(select.value) || 0, override: checkForm.elements.override.checked });
    });
    return card;
  }

  // The answer under a scan or a tap: who, the seat, the gift, the deal.
  function showResult(facts) {
    var box = fromTemplate("door-result-template");
    box.classList.add(facts.already || facts.refused ? "alert-warning" : (facts.waiting ? "alert-info" : "alert-success"));
    put(box, "name", facts.name);
    var state = facts.state || (facts.already ? say("already", { time: facts.at, who: facts.by }) : say("checked_in"));
    if (!facts.already && !facts.state && facts.companions) { state += " · " + say("with_companions", { n: facts.companions }); }
    put(box, "state", state);
    put(box, "note", facts.note || "");
    put(box, "table", facts.table ? say("go_to", { table: facts.table }) : say("no_table"));
    put(box, "inviter", facts.inviter ? say("invited_by", { name: facts.inviter }) : "");
    var gift = facts.gift;
    if (gift && !(gift.invited_only && facts.walk_in)) {
      slot(box, "gift").hidden = false;
      var label = { gift: gift.product, n: gift.quantity };
      if (gift.issued) {
        put(box, "gift-issued", "✓ " + say("gift_given", label));
      } else {
        var button = put(box, "give-gift", say("give_gift", label));
        button.addEventListener("click", function () {
          if (button.disabled) { return; }
          button.disabled = true;
          giveGift(facts);
        });
      }
      var left = say("gift_left", { gift: gift.product, n: gift.left });
      var leftNode = put(box, "gift-left", gift.low ? left + " · " + say("running_low") : left);
      if (gift.low) { leftNode.className = "mt-2 text-danger fw-bold"; }
    }
    if (urls.deal && facts.customer_id && online()) {  // the order form needs the network
      var deal = slot(box, "deal");
      deal.href = urls.deal.replace("/new/0", "/new/" + facts.customer_id);
      deal.hidden = false;
    }
    door.textContent = "";
    door.appendChild(box);
  }

  function showRefused(message) {
    var alert = document.createElement("div");
    alert.className = "alert alert-danger fs-5 py-3";
    alert.setAttribute("role", "alert");
    alert.dataset.testid = "refused";
    alert.textContent = message;
    door.textContent = "";
    door.appendChild(alert);
  }

  function showSending(name) {
    var note = document.createElement("div");
    note.className = "alert alert-light border fs-5 py-3";
    note.dataset.testid = "sending";
    note.textContent = name + " · " + say("sending");
    door.textContent = "";
    door.appendChild(note);
  }

  function showClosed() {
    var note = document.createElement("div");
    note.className = "alert alert-secondary";
    note.dataset.testid = "closed";
    note.textContent = say("closed");
    door.textContent = "";
    door.appendChild(note);
  }

  function nextScan() {
    input.value = "";
    input.focus();
  }

  // What the tablet knows of a guest, as a result, before (or without) the server's answer.
  function localFacts(guest, extra) {
    var gift = roster && roster.gift ? Object.assign({}, roster.gift, {
      issued: guest.gift_given || waiting("gift", guest) }) : null;
    return Object.assign({ name: guest.name, customer_id: guest.customer_id,
                           invitation_id: guest.invitation_id, table: guest.table,
                           inviter: guest.inviter, companions: guest.companions, walk_in: guest.walk_in,
                           gift: gift, guest: guest }, extra || {});
  }

  // The server's answer as a result: a check-in done, or the one that came first; under a
  // gift, the check-in it belongs to, and why the gift was not written if it was not.
  function serverFacts(body, entry) {
    var c = body.check_in;
    var guest = guestBy("invitation_id", c.invitation_id);
    var facts = { name: c.name, customer_id: c.customer_id, invitation_id: c.invitation_id,
                  table: c.table, inviter: c.inviter, companions: c.companions, at: c.at, by: c.by,
                  walk_in: guest ? guest.walk_in : false, gift: body.gift, guest: guest,
                  already: !body.ok && entry.kind === "check_in" };
    if (entry.kind === "gift") {
      facts.state = say("checked_in_at", { time: c.at, who: c.by });
      if (!body.ok) { facts.note = say("refused", { message: body.message }); facts.refused = true; }
    }
    return facts;
  }

  function showNetwork() {
    var badge = document.getElementById("door-network");
    app.dataset.guests = roster ? roster.guests.length : 0;  // how many this tablet can find offline
    if (signedOut) {
      badge.className = "badge fs-6 text-bg-danger";
      badge.textContent = say("sign_in");
    } else if (online()) {
      badge.className = "badge fs-6 text-bg-success";
      badge.textContent = say("online");
    } else {
      badge.className = "badge fs-6 text-bg-warning text-wrap";
      badge.textContent = roster ? say("offline", { n: roster.guests.length }) : say("no_list");
    }
    showQueue();
  }

  function showQueue() {
    var list = document.getElementById("door-pending");
    list.textContent = "";
    queue.forEach(function (entry) {
      var item = document.createElement("li");
      item.dataset.testid = "pending-entry";
      var wait = Math.ceil((entry.next_at - Date.now()) / 1000);
      var state = entry.sending ? say("sending") : !online() ? say("waiting_network")
        : wait > 0 ? say("retry_in", { s: wait }) : say("sending");
      item.textContent = say(entry.kind) + " · " + (entry.name || entry.code) + " · " + state;
      list.appendChild(item);
    });
    document.getElementById("door-pending-summary").textContent =
      queue.length ? say("pending", { n: queue.length }) : say("all_sent");
    document.getElementById("door-send-now").hidden = !queue.length;
  }

  function showConflicts(list) {
    if (!list) { return; }
    conflictsAt = Date.now();
    var box = document.getElementById("door-conflicts");
    box.textContent = "";
    if (!list.length) {
      var none = document.createElement("li");
      none.className = "text-muted";
      none.textContent = say("no_conflicts");
      box.appendChild(none);
    }
    list.forEach(function (c) {
      var item = document.createElement("li");
      item.className = "border-bottom py-1";
      item.dataset.testid = "conflict";
      var head = document.createElement("div");
      head.className = "fw-bold";
      head.textContent = (c.name ? c.name + " · " : "") + say("conflict_line", { time: c.at, kind: c.kind, reason: c.reason });
      var message = document.createElement("div");
      message.textContent = c.message;
      var by = document.createElement("div");
      by.className = "text-muted";
      by.textContent = say("conflict_by", { who: c.by, device: c.device });
      item.append(head, message, by);
      box.appendChild(item);
    });
  }

  // --- Writes -------------------------------------------------------------------------------
  function enqueue(entry) {
    entry.token = uuid4();
    entry.event_id = eventId;
    entry.device = device();
    entry.queued = !online();
    entry.queued_ms = lastMade = Math.max(Date.now(), lastMade + 1);  // keeps the order
    entry.attempts = 0;
    entry.next_at = 0;
    queue.push(entry);
    showQueue();
    return saveEntry(entry).then(function () { return entry; });
  }

  function checkIn(guest, choice) {
    if (guest.checked_in) {
      shown = null;
      showResult(localFacts(guest, { already: true, at: guest.checked_in.at, by: guest.checked_in.by }));
      nextScan();
      return;
    }
    if (waiting("check_in", guest)) {
      showResult(localFacts(guest, { waiting: true, note: say("queued_check_in") }));
      nextScan();
      return;
    }
    var table = choice.table_id ? tableName(choice.table_id) : guest.table;
    enqueue({ kind: "check_in", invitation_id: guest.invitation_id, name: guest.name,
              companions: choice.companions, table_id: choice.table_id, override: choice.override })
      .then(function (entry) { answerOrWait(entry, localFacts(guest, {
        waiting: true, note: say("queued_check_in"), companions: choice.companions, table: table })); });
    nextScan();
  }

  function checkInByCard(code) {
    enqueue({ kind: "check_in", code: code, name: "" }).then(function (entry) {
      answerOrWait(entry, null);
    });
    nextScan();
  }

  function giveGift(facts) {
    enqueue({ kind: "gift", invitation_id: facts.invitation_id, name: facts.name })
      .then(function (entry) {
        var guest = facts.guest || guestBy("invitation_id", facts.invitation_id);
        answerOrWait(entry, Object.assign({}, facts, { waiting: true, note: say("queued_gift"),
          gift: Object.assign({}, facts.gift, { issued: true }), guest: guest }));
      });
  }

  // Online, the staff wait for the server's answer (a moment); offline, or without an answer,
  // the tablet's own result is shown and the write waits in the queue.
  function answerOrWait(entry, local) {
    shown = { token: entry.token, local: local };
    if (online() && !signedOut) {
      showSending(entry.name || entry.code);
      drain().then(function () {
        if (shown && shown.token === entry.token && queue.indexOf(entry) !== -1) { showLocal(entry, local); }
      });
    } else {
      showLocal(entry, local);
    }
  }

  function showLocal(entry, local) {
    if (local) { showResult(local); } else { showResult({ name: entry.code, waiting: true, note: say("unknown_card") }); }
  }

  function backoff(attempts) {
    var base = Math.min(60000, 1000 * Math.pow(2, attempts));
    return base / 2 + Math.random() * base / 2;
  }

  // Send the waiting writes in the order they were made; stop at the first without an answer.
  // One run at a time: a write queued meanwhile is sent by the run under way.
  function drain() {
    if (!running) {
      running = sendWaiting().then(function () { running = null; }, function () { running = null; });
    }
    return running;
  }

  function sendWaiting() {
    var entry = queue[0];
    if (!entry || entry.next_at > Date.now() || !online() || signedOut) { return Promise.resolve(); }
    entry.sending = true;
    showQueue();
    return send(entry).then(function (answer) {
      entry.sending = false;
      if (answer === "again") { return sendWaiting(); }
      if (!answer) {
        entry.attempts += 1;
        entry.queued = true;  // the staff did not see its answer: a refusal becomes a conflict
        entry.next_at = Date.now() + backoff(entry.attempts);
        return saveEntry(entry).then(showQueue);
      }
      return dropEntry(entry).then(function () { showQueue(); answered(entry, answer); })
        .then(sendWaiting);
    });
  }

  function send(entry) {
    var body = new URLSearchParams();
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
    return fetch(urls.replay, { method: "POST", body: body, credentials: "same-origin", redirect: "manual",
                                headers: { Accept: "application/json", "X-CSRFToken": csrf },
                                signal: timeout() })
      .then(function (response) {
        if (response.type === "opaqueredirect" || response.status === 401) {
          signedOut = true;
          showNetwork();
          return null;
        }
        signedOut = false;
        if (response.status >= 500) { return null; }
        return response.json().then(function (json) {
          if ("ok" in json) { return { status: response.status, body: json }; }
          if (response.status === 400 && !entry.csrfRetried) {  // an old page's CSRF token
            entry.csrfRetried = true;
            rosterAt = 0;
            return refreshRoster().then(function () { return "again"; });
          }
          return { status: response.status, body: { ok: false, message: json.error || "" } };
        });
      })
      .catch(function () { return null; });
  }

  function answered(entry, answer) {
    var body = answer.body;
    var guest = body.check_in ? guestBy("invitation_id", body.check_in.invitation_id) : null;
    if (guest && body.check_in) {
      guest.checked_in = { at: body.check_in.at, by: body.check_in.by, companions: body.check_in.companions };
      if (body.gift) { guest.gift_given = body.gift.issued; }
      if (roster && body.gift) { roster.gift.left = body.gift.left; roster.gift.low = body.gift.low; }
      saveRoster();
    }
    if (body.conflict) { conflictsAt = 0; }
    if (!shown || shown.token !== entry.token) { return; }
    shown = null;
    if (body.check_in) {
      showResult(serverFacts(body, entry));
    } else {
      showRefused(body.message);
    }
  }

  // --- Wiring -------------------------------------------------------------------------------
  form.addEventListener("submit", function (event) { event.preventDefault(); scanned(); });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter") { event.preventDefault(); scanned(); }
  });
  input.addEventListener("input", function () {
    clearTimeout(searchTimer);
    var text = input.value;
    searchTimer = setTimeout(function () { showMatches(text); }, 150);
  });

  // Enter in the box: a scanner has typed a card's code (check in at once), or staff typed a
  // search (show the matches).
  function scanned() {
    clearTimeout(searchTimer);
    var text = input.value.trim();
    if (!text) { return; }
    var guest = guestBy("code", text);
    if (guest) { checkIn(guest, { companions: guest.companions, table_id: 0, override: false }); return; }
    if (CARD.test(text)) { checkInByCard(text); return; }
    showMatches(text);
  }

  document.getElementById("door-send-now").addEventListener("click", function () {
    queue.forEach(function (e) { e.next_at = 0; });
    drain();
  });
  window.addEventListener("online", function () {
    queue.forEach(function (e) { e.next_at = 0; });
    showNetwork();
    refreshRoster().then(drain).then(function () { conflictsAt = 0; });
  });
  window.addEventListener("offline", showNetwork);

  setInterval(function () {
    showQueue();
    if (!online()) { return; }
    if (queue.length && !running) { drain(); }
    if (Date.now() - rosterAt > ROSTER_EVERY) { refreshRoster(); }
    if (Date.now() - conflictsAt > CONFLICTS_EVERY && !running) {
      conflictsAt = Date.now();
      request(urls.conflicts).then(function (body) {
        if (!body) { return; }
        showConflicts(body.conflicts);
        if (!body.open && roster) { forgetRoster().then(showClosed); }
      }).catch(function () {});
    }
  }, 1000);

  if ("serviceWorker" in navigator && urls.worker) {
    navigator.serviceWorker.register(urls.worker, { scope: urls.scope }).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (registration) {
      // Keep this page and the files it loaded, for a reload without the network.
      var files = [location.href];
      document.querySelectorAll("link[rel=stylesheet], link[rel=icon], script[src]").forEach(function (node) {
        files.push(node.href || node.src);
      });
      if (registration.active) { registration.active.postMessage({ keep: files }); }
    }).catch(function () { /* no service worker (plain HTTP off localhost): online only */ });
  }

  Promise.all([
    idb("rosters", "readonly", function (s) { return s.get(eventId); }),
    idb("queue", "readonly", function (s) { return s.index("event").getAll(eventId); })
  ]).then(function (loaded) {
    roster = loaded[0] || null;
    queue = (loaded[1] || []).sort(function (a, b) { return a.queued_ms - b.queued_ms; });
    showNetwork();
    return refreshRoster();
  }).then(drain);
})();
