// Upload page: drag-and-drop of files and folders onto the drop zone, and the upload progress bar.
// The form works without this file (a plain multipart POST); this only adds convenience.
"use strict";

(function () {
  /** Read every entry of a dropped folder (readEntries returns at most ~100 per call). */
  function readAllEntries(reader) {
    return new Promise(function (resolve, reject) {
      var all = [];
      function next() {
        reader.readEntries(function (batch) {
          if (!batch.length) { resolve(all); return; }
          all = all.concat(Array.prototype.slice.call(batch));
          next();
        }, reject);
      }
      next();
    });
  }

  /** The files under a dropped entry; hidden files (.DS_Store and the like) are left out. */
  function filesOf(entry) {
    if (entry.name && entry.name.charAt(0) === ".") { return Promise.resolve([]); }
    if (entry.isFile) {
      return new Promise(function (resolve) {
        entry.file(function (file) { resolve([file]); }, function () { resolve([]); });
      });
    }
    if (entry.isDirectory) {
      return readAllEntries(entry.createReader()).then(function (entries) {
        return Promise.all(entries.map(filesOf)).then(function (lists) {
          return [].concat.apply([], lists);
        });
      }, function () { return []; });
    }
    return Promise.resolve([]);
  }

  /** The files of a drop: folders are walked when the browser exposes entries, plain files otherwise. */
  function droppedFiles(dataTransfer) {
    var items = dataTransfer.items;
    if (items && items.length && typeof items[0].webkitGetAsEntry === "function") {
      // Entries (and files) must be taken synchronously, inside the drop event.
      var pending = [];
      for (var i = 0; i < items.length; i++) {
        if (items[i].kind !== "file") { continue; }
        var entry = items[i].webkitGetAsEntry();
        var file = items[i].getAsFile();
        // Some drops (and scripted ones) carry files without entries: take the file itself.
        pending.push(entry ? filesOf(entry) : Promise.resolve(file ? [file] : []));
      }
      return Promise.all(pending).then(function (lists) { return [].concat.apply([], lists); });
    }
    return Promise.resolve(Array.prototype.slice.call(dataTransfer.files || []));
  }

  function setup() {
    var form = document.getElementById("upload-form");
    if (!form) { return; }
    var input = document.getElementById("upload-files");
    var zone = document.getElementById("dropzone");
    var progress = document.getElementById("upload-progress");
    var status = document.getElementById("upload-status");

    function submit() {
      if (!input.files || !input.files.length) { return; }
      status.textContent = "Uploading " + input.files.length + (input.files.length === 1 ? " file…" : " files…");
      form.requestSubmit();
    }

    input.addEventListener("change", submit);

    ["dragenter", "dragover"].forEach(function (type) {
      zone.addEventListener(type, function (event) {
        event.preventDefault();
        zone.classList.add("is-dragover");
      });
    });
    ["dragleave", "dragend"].forEach(function (type) {
      zone.addEventListener(type, function () { zone.classList.remove("is-dragover"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove("is-dragover");
      droppedFiles(event.dataTransfer).then(function (files) {
        if (!files.length) { status.textContent = "The drop held no files."; return; }
        var transfer = new DataTransfer();
        files.forEach(function (file) { transfer.items.add(file); });
        input.files = transfer.files;
        submit();
      });
    });
    // A file dropped next to the zone would make the browser open it and leave the page.
    document.addEventListener("dragover", function (event) { event.preventDefault(); });
    document.addEventListener("drop", function (event) {
      if (!zone.contains(event.target)) { event.preventDefault(); }
    });

    form.addEventListener("htmx:xhr:progress", function (event) {
      var detail = event.detail || {};
      if (!detail.total) { return; }
      var percent = Math.round((detail.loaded / detail.total) * 100);
      progress.hidden = false;
      progress.value = percent;
      progress.textContent = percent + "%";
      status.textContent = percent < 100 ? "Uploading… " + percent + "%" : "Saving the files…";
    });
    form.addEventListener("htmx:afterRequest", function (event) {
      progress.hidden = true;
      progress.value = 0;
      status.textContent = event.detail && event.detail.successful
        ? "" : "The upload did not reach Lastmile. Check your connection and try again.";
      form.reset();
    });
  }

  // Forms marked data-reset-on-success (the paste box) empty themselves once their batch is created.
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.target;
    var xhr = event.detail && event.detail.xhr;
    // The server names a created batch in HX-Trigger; a refusal (empty text) keeps what was typed.
    if (form && form.matches && form.matches("form[data-reset-on-success]") && xhr
        && xhr.getResponseHeader("HX-Trigger") === "upload-created") {
      form.reset();
    }
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setup);
  } else {
    setup();
  }
})();
