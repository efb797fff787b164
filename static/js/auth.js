// Account menus and refused htmx requests: behaviour the htmx attributes cannot express (no inline JS).
"use strict";

(function () {
  /** Close every open menu except the one that holds `target`. */
  function closeMenus(target) {
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (!target || !menu.contains(target)) { menu.removeAttribute("open"); }
    });
  }

  document.addEventListener("click", function (event) { closeMenus(event.target); });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { closeMenus(null); }
  });

  // htmx does not swap error answers; a 403 (role too low, form expired) is shown in the flash area.
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var flash = document.getElementById("flash");
    if (!xhr || xhr.status !== 403 || !flash) { return; }
    // The server's notice is read as text only: nothing from a response is inserted as HTML here.
    var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
    var text = (doc.body.textContent || "").trim() || "You may not do this here.";
    var notice = document.createElement("div");
    notice.className = "notice notice-err";
    notice.setAttribute("role", "alert");
    notice.textContent = text;
    flash.replaceChildren(notice);
  });
})();
