// 会销通 · message editor: a field button puts {姓名} at the cursor of the text, and the change
// is announced as typing is, so the live preview (htmx on the form) follows.
document.addEventListener("click", function (event) {
  var button = event.target.closest && event.target.closest("[data-insert-field]");
  if (!button) return;
  var area = document.getElementById(button.getAttribute("data-target"));
  if (!area || area.disabled) return;
  var insert = "{" + button.getAttribute("data-insert-field") + "}";
  var start = area.selectionStart == null ? area.value.length : area.selectionStart;
  var end = area.selectionEnd == null ? start : area.selectionEnd;
  area.value = area.value.slice(0, start) + insert + area.value.slice(end);
  area.focus();
  area.setSelectionRange(start + insert.length, start + insert.length);
  area.dispatchEvent(new Event("input", {bubbles: true}));
});
