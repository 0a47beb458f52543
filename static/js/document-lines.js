// Multi-line stock documents: "Add a line" copies the last row (fields renamed, values cleared);
// Enter in a SKU box (a scanner types the code and Enter) moves to the quantity instead of
// submitting the form.
(function () {
  var table = document.getElementById("lines");
  var button = document.getElementById("add-line");
  if (!table || !button) { return; }
  var body = table.querySelector("tbody");

  button.addEventListener("click", function () {
    var rows = body.querySelectorAll("tr.line");
    if (rows.length >= Number(button.dataset.max || 100)) { return; }
    var copy = rows[rows.length - 1].cloneNode(true);
    var index = rows.length;
    copy.querySelectorAll("input, select").forEach(function (input) {
      input.name = input.name.replace(/^lines-\d+-/, "lines-" + index + "-");
      input.id = input.name;
      input.value = "";
      input.classList.remove("is-invalid");
    });
    copy.querySelectorAll(".invalid-feedback").forEach(function (node) { node.remove(); });
    copy.querySelector("td").textContent = String(index + 1);
    body.appendChild(copy);
    copy.querySelector("input").focus();
  });

  table.addEventListener("keydown", function (event) {
    var input = event.target;
    if (event.key !== "Enter" || !/-sku$/.test(input.name || "")) { return; }
    event.preventDefault();
    var quantity = input.closest("tr").querySelector("input[name$='-quantity']");
    if (quantity) { quantity.focus(); quantity.select(); }
  });
})();
