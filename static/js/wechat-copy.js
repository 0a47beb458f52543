// "Today": 复制 copies a WeChat message's text for the marketer to paste in WeChat on their
// phone, then 已发送 becomes the next tap. navigator.clipboard needs a secure context (HTTPS or
// localhost); over plain HTTP on the intranet the text is copied through a hidden textarea and
// execCommand("copy"), and if even that is refused the text is selected for a long-press copy.
// One listener on the document: htmx swaps the cards in and out.
(function () {
  function legacyCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "position-fixed top-0 start-0 opacity-0";
    document.body.appendChild(area);
    area.select();
    area.setSelectionRange(0, text.length);
    var done = false;
    try { done = document.execCommand("copy"); } catch (error) { done = false; }
    document.body.removeChild(area);
    return done;
  }

  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function copied(button, card, ok) {
    var status = card.querySelector("[data-testid=wechat-copied]");
    var sent = card.querySelector("[data-testid=wechat-sent]");
    if (status) { status.textContent = ok ? button.getAttribute("data-copied-text") : ""; }
    if (sent) {
      sent.classList.remove("btn-outline-success");
      sent.classList.add("btn-success");
      if (ok) { sent.focus(); }
    }
    card.setAttribute("data-copied", ok ? "1" : "0");
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (!button) { return; }
    var source = document.getElementById(button.getAttribute("data-copy"));
    var card = button.closest("[data-testid=wechat]");
    if (!source || !card) { return; }
    var text = source.innerText.trim();
    var fallback = function () {
      var ok = legacyCopy(text);
      if (!ok) { selectText(source); }
      copied(button, card, ok);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { copied(button, card, true); },
                                               fallback);
    } else {
      fallback();
    }
  });
})();
