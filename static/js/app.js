// 会销通: small progressive enhancements. No inline scripts in templates (CSP-ready).
document.addEventListener("submit", function (event) {
  // <form data-confirm="..."> asks before a consequential action.
  var form = event.target;
  var question = form.getAttribute && form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
}, true);

// The check-in screen: after a result, clear the box and keep the focus for the next scan.
document.addEventListener("htmx:afterSwap", function (event) {
  if (event.target && event.target.id === "door" &&
      event.target.querySelector("[data-testid=check-in-result], [data-testid=refused]")) {
    var input = document.querySelector("[data-scan-input]");
    if (input) { input.value = ""; input.focus(); }
  }
});
// A fresh one-time token after each scan submit, so the next card is a new check-in.
document.addEventListener("htmx:afterRequest", function (event) {
  var form = event.detail && event.detail.elt;
  if (form && form.id === "scan-form") {
    var token = form.querySelector("input[name=token]");
    if (token) { token.value = uuid4(); }
  }
});

// A random UUID (version 4); crypto.randomUUID exists only on HTTPS, tablets may use plain HTTP.
function uuid4() {
  var b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
  return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
}

// A scanner types the card's code and Enter at once, so the search-as-you-type request can
// still be on its way (or just about to start) when the check-in answer arrives: a search that
// was sent before the last scan, or for an empty box, never replaces the answer.
var lastScanAt = 0;
document.addEventListener("htmx:beforeRequest", function (event) {
  var elt = event.detail && event.detail.elt;
  if (!elt) { return; }
  if (elt.id === "scan-form") { lastScanAt = Date.now(); }
  if (elt.hasAttribute && elt.hasAttribute("data-scan-input")) { elt.dataset.sentAt = Date.now(); }
});
document.addEventListener("htmx:beforeSwap", function (event) {
  var elt = event.detail && event.detail.elt;
  if (elt && elt.hasAttribute && elt.hasAttribute("data-scan-input") &&
      (Number(elt.dataset.sentAt || 0) <= lastScanAt || !elt.value)) {
    event.detail.shouldSwap = false;
  }
});

// <select data-autosubmit> submits its form when changed (filters above lists).
document.addEventListener("change", function (event) {
  if (event.target.matches && event.target.matches("select[data-autosubmit]") && event.target.form) {
    event.target.form.submit();
  }
});
