// The order form on a tablet: tapping a package card adds one set (tap the number to change
// it); Enter in a SKU box moves to the quantity instead of submitting.
(function () {
  document.querySelectorAll("[data-package-tile]").forEach(function (tile) {
    tile.addEventListener("click", function (event) {
      if (event.target.closest("input, label")) { return; }
      var count = tile.querySelector("input[type=number]");
      count.value = String((parseInt(count.value, 10) || 0) + 1);
      tile.classList.add("border-primary", "border-3");
    });
  });
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
