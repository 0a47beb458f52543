// 会销通: small progressive enhancements. No inline scripts in templates (CSP-ready).
document.addEventListener("submit", function (event) {
  // <form data-confirm="..."> asks before a consequential action.
  var form = event.target;
  var question = form.getAttribute && form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
}, true);

// <select data-autosubmit> submits its form when changed (filters above lists).
document.addEventListener("change", function (event) {
  if (event.target.matches && event.target.matches("select[data-autosubmit]") && event.target.form) {
    event.target.form.submit();
  }
});
