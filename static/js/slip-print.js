// A hand-over's slip prints from the same tap: the pickup page reached from "交付并打印" loads the
// slip (PDF) in a frame and opens the print dialog for it as soon as it has loaded. The button
// beside it prints again.
(function () {
  var frame = document.querySelector("iframe[data-print-on-load]");
  if (!frame) { return; }
  frame.addEventListener("load", function () {
    document.body.setAttribute("data-slip-print", "asked");
    try {
      frame.contentWindow.focus();
      frame.contentWindow.print();
    } catch (error) {  // a browser that will not print a frame: the button is there
      document.body.setAttribute("data-slip-print", "refused");
    }
  });
})();
