// Draft page behaviour htmx attributes cannot express: the Copy button. No inline scripts (strict CSP).
"use strict";

(function () {
  // A button with data-copy="<element id>" copies that element's text to the clipboard.
  document.addEventListener("click", async function (event) {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const source = document.getElementById(button.dataset.copy);
    if (!source) return;
    const label = button.textContent;
    try {
      await navigator.clipboard.writeText(source.textContent);
      button.textContent = "Copied";
    } catch (error) {
      // No clipboard access (plain http on another host): select the text so Ctrl+C copies it.
      const range = document.createRange();
      range.selectNodeContents(source);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      button.textContent = "Selected: press Ctrl+C";
    }
    setTimeout(function () { button.textContent = label; }, 2000);
  });
})();
