// Account and admin pages: the Copy buttons next to a new API token or a one-time link. No inline scripts (CSP).
"use strict";
(function () {
  function copied(button, text) {
    const label = button.textContent;
    button.textContent = text;
    setTimeout(function () { button.textContent = label; }, 2000);
  }

  // Delegated, so buttons that arrive in htmx swaps work too.
  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const field = document.getElementById(button.dataset.copy);
    if (!field) return;
    field.focus();
    field.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(
        function () { copied(button, "Copied"); },
        function () { copied(button, "Press Ctrl+C"); }
      );
    } else {
      // Plain-HTTP installs have no Clipboard API; the text is selected for the person to copy.
      copied(button, document.execCommand && document.execCommand("copy") ? "Copied" : "Press Ctrl+C");
    }
  });
})();
