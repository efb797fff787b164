// Examples table behaviour htmx attributes cannot express: row click to edit, selection counts for bulk
// actions, and the "new dataset" name field. Loaded from a file (no inline scripts: strict CSP).
"use strict";

(function () {
  const INTERACTIVE = "a, button, input, select, textarea, label, summary";

  // Clicking anywhere on a row (not on its controls) opens the inline edit form, like its Edit button.
  document.addEventListener("click", function (event) {
    const row = event.target.closest("tr.example-row");
    if (!row || event.target.closest(INTERACTIVE)) return;
    if (window.getSelection && String(window.getSelection()).length) return; // the user is selecting text
    const edit = row.querySelector(".edit-btn");
    if (edit) edit.click();
  });

  function rowBoxes() {
    return Array.from(document.querySelectorAll("#examples-results .row-select"));
  }

  function formatCount(n) {
    return n.toLocaleString("en-US");
  }

  // Keep "N selected" and the header checkbox in step with the row checkboxes.
  function updateSelection() {
    const status = document.getElementById("selected-count");
    if (!status) return;
    const boxes = rowBoxes();
    const all = document.getElementById("all-matching");
    const pageBox = document.getElementById("select-page");
    const checked = boxes.filter((b) => b.checked).length;
    if (pageBox) {
      pageBox.checked = boxes.length > 0 && checked === boxes.length;
      pageBox.indeterminate = checked > 0 && checked < boxes.length;
    }
    if (all && all.checked) {
      status.textContent = "All " + formatCount(Number(status.dataset.total)) + " matching examples selected";
    } else if (checked === 0) {
      status.textContent = "No examples selected";
    } else {
      status.textContent = formatCount(checked) + (checked === 1 ? " example selected" : " examples selected");
    }
  }

  document.addEventListener("change", function (event) {
    const target = event.target;
    if (target.id === "select-page") {
      rowBoxes().forEach((b) => { b.checked = target.checked; });
      const all = document.getElementById("all-matching");
      if (all && !target.checked) all.checked = false;
    } else if (target.id === "all-matching") {
      // "All matching" includes every row on this page too.
      if (target.checked) rowBoxes().forEach((b) => { b.checked = true; });
    } else if (target.classList.contains("row-select")) {
      const all = document.getElementById("all-matching");
      if (all && !target.checked) all.checked = false;
    } else if (target.classList.contains("bulk-dataset")) {
      toggleNewDataset(target);
    }
    updateSelection();
  });

  // The new-dataset name only matters while "New dataset…" is picked.
  function toggleNewDataset(select) {
    const name = document.getElementById("bulk-new-dataset");
    if (!name) return;
    name.hidden = select.value !== "";
    if (name.hidden) name.value = "";
  }

  function refresh() {
    const select = document.getElementById("bulk-dataset");
    if (select) toggleNewDataset(select);
    updateSelection();
  }

  // Filter requests leave out empty fields, so a shared URL reads /examples?flag=duplicate, not a list of blanks.
  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.verb !== "get" || !event.detail.elt.closest("#examples-filters, #examples-results")) return;
    const params = event.detail.parameters;
    Object.keys(params).forEach(function (key) {
      if (params[key] === "" || (key === "sort" && params[key] === "newest")) delete params[key];
    });
  });

  document.addEventListener("DOMContentLoaded", refresh);
  document.addEventListener("htmx:afterSettle", refresh);
})();
