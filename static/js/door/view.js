// Drawing the door screen: the matches, the answer under a scan or a tap, the network badge,
// the writes waiting and the conflicts. Cards come from the page's <template>s, whose
// [data-slot] elements get text, never markup; the words come translated from the page.
let words = {};

export function setWords(given) { words = given; }

// A word of the page, its {name} slots filled from `values`.
export function say(key, values) {
  return String(words[key]).replace(/\{(\w+)\}/g, (all, name) => (
    values && name in values ? String(values[name]) : all));
}

function door() { return document.getElementById("door"); }

function fromTemplate(id) {
  return document.getElementById(id).content.firstElementChild.cloneNode(true);
}
function slot(node, name) { return node.querySelector(`[data-slot=${name}]`); }
function put(node, name, text) {
  const el = slot(node, name);
  el.textContent = text;
  el.hidden = !text;
  return el;
}

function show(node) {
  door().textContent = "";
  if (node) { door().appendChild(node); }
}

function note(className, testid, text) {
  const node = document.createElement("div");
  node.className = className;
  node.dataset.testid = testid;
  node.textContent = text;
  return node;
}

export function clear() { show(null); }

// Nobody found by what was typed: a walk-in, with what was typed carried into its form.
export function showNoMatch(text, walkIn) {
  const none = document.createElement("div");
  const line = document.createElement("p");
  line.className = "text-muted fs-5";
  line.dataset.testid = "no-match";
  line.textContent = say("no_match", { text });
  none.appendChild(line);
  if (walkIn) {
    const link = document.createElement("a");
    link.className = "btn btn-primary btn-lg";
    link.dataset.testid = "register-walk-in";
    link.href = walkIn + "?" + new URLSearchParams({ q: text });
    link.textContent = say("register_walk_in");
    none.appendChild(link);
  }
  show(none);
}

// A card per guest found. with: tables (of the event), done(guest) (checked in, or queued),
// checkIn(guest, choice) (the tap), giftOwed(guest) (the attendance gift a guest who is in has
// not had yet, or null) and giveGift(guest) (its tap).
export function showMatches(guests, { tables, done, checkIn, giftOwed, giveGift }) {
  const row = document.createElement("div");
  row.className = "row g-3";
  guests.forEach((guest) => row.appendChild(
    matchCard(guest, tables, done(guest), checkIn, giftOwed(guest), giveGift)));
  show(row);
}

function matchCard(guest, tables, done, checkIn, gift, giveGift) {
  const card = fromTemplate("door-match-template");
  put(card, "name", guest.name);
  put(card, "phone", guest.phone);
  put(card, "inviter", say("invited_by", { name: guest.inviter }));
  put(card, "table", guest.table || say("no_table_yet"));
  put(card, "expected", say("expected", { n: guest.companions }));
  slot(card, "walk-in").hidden = !guest.walk_in;
  const status = put(card, "status", guest.status_label);
  const form = slot(card, "form");
  if (done) {
    status.className = "badge text-bg-success";
    const came = guest.checked_in;
    put(card, "checked-in", came ? say("checked_in_at", { time: came.at, who: came.by })
      : say("queued_check_in"));
    form.remove();
    if (gift) {
      const button = put(card, "give-gift", say("give_gift", { gift: gift.product, n: gift.quantity }));
      button.addEventListener("click", () => {
        if (button.disabled) { return; }
        button.disabled = true;
        giveGift(guest);
      });
    }
    return card;
  }
  form.elements.companions.value = guest.companions;
  const select = form.elements.table_id;
  tables.forEach((t) => {
    const option = document.createElement("option");
    option.value = t.id;
    option.textContent = `${t.name}（${t.seats}）`;
    select.appendChild(option);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const button = form.querySelector("button");
    if (button.disabled) { return; }
    button.disabled = true;
    const companions = parseInt(form.elements.companions.value, 10);
    checkIn(guest, {
      companions: Number.isNaN(companions) ? guest.companions : Math.max(0, Math.min(10, companions)),
      table_id: Number(select.value) || 0, override: form.elements.override.checked });
  });
  return card;
}

// The answer under a scan or a tap: who, the seat, the gift, the deal. with: giveGift(facts)
// (the gift's tap), deal (the order form's address for this guest, or "").
export function showResult(facts, { giveGift, deal }) {
  const box = fromTemplate("door-result-template");
  // A second scan of a card is normal at a door: information, not a warning.
  box.classList.add(facts.refused ? "alert-warning"
    : (facts.waiting || facts.already ? "alert-info" : "alert-success"));
  put(box, "name", facts.name);
  let state = facts.state || (facts.already ? say("already", { time: facts.at, who: facts.by })
    : say("checked_in"));
  if (!facts.already && !facts.state && facts.companions) {
    state += " · " + say("with_companions", { n: facts.companions });
  }
  put(box, "state", state);
  put(box, "note", facts.note || "");
  put(box, "table", facts.table ? say("go_to", { table: facts.table }) : say("no_table"));
  put(box, "inviter", facts.inviter ? say("invited_by", { name: facts.inviter }) : "");
  const gift = facts.gift;
  if (gift && !(gift.invited_only && facts.walk_in)) {
    slot(box, "gift").hidden = false;
    const label = { gift: gift.product, n: gift.quantity };
    if (gift.issued) {
      put(box, "gift-issued", "✓ " + say("gift_given", label));
    } else {
      const button = put(box, "give-gift", say("give_gift", label));
      button.addEventListener("click", () => {
        if (button.disabled) { return; }
        button.disabled = true;
        giveGift(facts);
      });
    }
    const left = say("gift_left", { gift: gift.product, n: gift.left });
    const leftNode = put(box, "gift-left", gift.low ? left + " · " + say("running_low") : left);
    if (gift.low) { leftNode.className = "mt-2 text-danger fw-bold"; }
  }
  if (deal) {
    const link = slot(box, "deal");
    link.href = deal;
    link.hidden = false;
  }
  show(box);
}

export function showRefused(message) {
  const alert = note("alert alert-danger fs-5 py-3", "refused", message);
  alert.setAttribute("role", "alert");
  show(alert);
}

export function showSending(name) {
  show(note("alert alert-light border fs-5 py-3", "sending", name + " · " + say("sending")));
}

export function showClosed() {
  show(note("alert alert-secondary", "closed", say("closed")));
}

// The network badge. state: signedOut, online, guests (how many the tablet holds; null: no list).
export function showNetwork({ signedOut, online, guests }) {
  const badge = document.getElementById("door-network");
  document.getElementById("door-app").dataset.guests = guests || 0;  // found offline (tests)
  if (signedOut) {
    badge.className = "badge fs-6 text-bg-danger";
    badge.textContent = say("sign_in");
  } else if (online) {
    badge.className = "badge fs-6 text-bg-success";
    badge.textContent = say("online");
  } else {
    badge.className = "badge fs-6 text-bg-warning text-wrap";
    badge.textContent = guests === null ? say("no_list") : say("offline", { n: guests });
  }
}

// The writes waiting to be sent, each with where it stands.
export function showQueue(entries, online) {
  const list = document.getElementById("door-pending");
  list.textContent = "";
  entries.forEach((entry) => {
    const item = document.createElement("li");
    item.dataset.testid = "pending-entry";
    const wait = Math.ceil((entry.next_at - Date.now()) / 1000);
    const state = entry.sending ? say("sending") : !online ? say("waiting_network")
      : wait > 0 ? say("retry_in", { s: wait }) : say("sending");
    item.textContent = say(entry.kind) + " · " + (entry.name || entry.code) + " · " + state;
    list.appendChild(item);
  });
  document.getElementById("door-pending-summary").textContent =
    entries.length ? say("pending", { n: entries.length }) : say("all_sent");
  document.getElementById("door-send-now").hidden = !entries.length;
}

// Queued writes the server refused, as every tablet at this door lists them.
export function showConflicts(list) {
  const box = document.getElementById("door-conflicts");
  box.textContent = "";
  if (!list.length) {
    const none = document.createElement("li");
    none.className = "text-muted";
    none.textContent = say("no_conflicts");
    box.appendChild(none);
  }
  list.forEach((c) => {
    const item = document.createElement("li");
    item.className = "border-bottom py-1";
    item.dataset.testid = "conflict";
    const head = document.createElement("div");
    head.className = "fw-bold";
    head.textContent = (c.name ? c.name + " · " : "") +
      say("conflict_line", { time: c.at, kind: c.kind, reason: c.reason });
    const message = document.createElement("div");
    message.textContent = c.message;
    const by = document.createElement("div");
    by.className = "text-muted";
    by.textContent = say("conflict_by", { who: c.by, device: c.device });
    item.append(head, message, by);
    box.appendChild(item);
  });
}
