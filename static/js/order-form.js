// The order form on a tablet: tapping a package card (or its ＋) adds one set, its − takes one
// off; Enter in a SKU box moves to the quantity instead of submitting; the bar at the foot shows
// what the order comes to, what is paid now and what stays due, as things change. The figures
// are a preview: the server computes the order when it is sent.
(function () {
  var form = document.getElementById("order-form");
  if (!form) { return; }

  function yuanToFen(text) {
    var value = parseFloat(String(text || "").replace(/[,，¥\s]/g, ""));
    return isFinite(value) ? Math.round(value * 100) : null;
  }

  function formatFen(fen) {  // as the |fen filter: "¥1,234.50", "-¥5.00"
    var sign = fen < 0 ? "-" : "";
    fen = Math.abs(fen);
    var yuan = String(Math.floor(fen / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    var cents = String(fen % 100);
    return sign + "¥" + yuan + "." + (cents.length < 2 ? "0" + cents : cents);
  }

  var prices = {};  // SKU (upper case) → sale price in fen, from the product list
  document.querySelectorAll("#product-list option[data-price]").forEach(function (option) {
    prices[option.value.toUpperCase()] = parseInt(option.getAttribute("data-price"), 10) || 0;
  });

  function orderTotal() {
    var total = 0;
    form.querySelectorAll("[data-package-tile]").forEach(function (tile) {
      var count = parseInt(tile.querySelector("input[type=number]").value, 10) || 0;
      total += Math.max(count, 0) * (parseInt(tile.getAttribute("data-price"), 10) || 0);
    });
    form.querySelectorAll("#lines tr.line").forEach(function (row) {
      var value = function (suffix) { return row.querySelector("input[name$='-" + suffix + "']").value; };
      var sku = value("sku").trim().toUpperCase();
      var quantity = parseInt(value("quantity"), 10) || 0;
      if (!sku || !(sku in prices) || quantity <= 0) { return; }
      var unit = yuanToFen(value("unit_price"));
      total += quantity * (unit === null ? prices[sku] : unit) - (yuanToFen(value("discount")) || 0);
    });
    return total;
  }

  var totalOut = form.querySelector("[data-deal-total]");
  var dueOut = form.querySelector("[data-deal-due]");
  var deposit = form.querySelector("input[name=deposit]");

  function refresh() {
    if (!totalOut) { return; }
    var total = orderTotal();
    var paid = yuanToFen(deposit && deposit.value) || 0;
    totalOut.textContent = formatFen(total);
    dueOut.textContent = formatFen(total - paid);
    dueOut.classList.toggle("text-danger", total - paid > 0);
  }

  function addSets(tile, step) {
    var count = tile.querySelector("input[type=number]");
    var next = Math.min(Math.max((parseInt(count.value, 10) || 0) + step, 0), 99);
    count.value = next ? String(next) : "";
    tile.classList.toggle("border-primary", next > 0);
    tile.classList.toggle("border-3", next > 0);
    refresh();
  }

  form.querySelectorAll("[data-package-tile]").forEach(function (tile) {
    tile.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-step]");
      if (button) {
        addSets(tile, parseInt(button.getAttribute("data-step"), 10));
      } else if (!event.target.closest("input, label, button")) {
        addSets(tile, 1);
      }
    });
  });

  form.addEventListener("input", refresh);
  form.addEventListener("change", refresh);
  refresh();

  var table = document.getElementById("lines");
  if (table) {
    table.addEventListener("keydown", function (event) {
      var input = event.target;
      if (event.key !== "Enter" || !/-sku$/.test(input.name || "")) { return; }
      event.preventDefault();
      var quantity = input.closest("tr").querySelector("input[name$='-quantity']");
      if (quantity) { quantity.focus(); }
    });
  }
})();
