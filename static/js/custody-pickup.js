// The custody counter: "全部可领" fills a line's box with what may be collected now; the one
// under the table fills every line's box. The server still checks each quantity.
(function () {
  var form = document.querySelector("[data-testid=pickup-form]");
  if (!form) { return; }
  form.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-fill-pickable]");
    if (!button) { return; }
    var boxes = button.getAttribute("data-fill-pickable") === "all"
      ? form.querySelectorAll("input[data-pickable]")
      : button.closest("td").querySelectorAll("input[data-pickable]");
    boxes.forEach(function (box) { box.value = box.getAttribute("data-pickable"); });
  });
})();
