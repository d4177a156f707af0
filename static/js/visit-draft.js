// Keeps what a caseworker typed on the visit page in this browser until the server has
// saved it: a lost connection or a closed tab loses nothing. The page after a successful
// save loads this script with data-clear="<key>" and the draft is dropped.
(function () {
  "use strict";
  var script = document.currentScript;
  var clearKey = script && script.getAttribute("data-clear");
  function storage() {
    try { return window.localStorage; } catch (e) { return null; }
  }
  var store = storage();
  if (!store) { return; }
  if (clearKey) { store.removeItem(clearKey); return; }
  var form = document.querySelector("form[data-draft-key]");
  if (!form) { return; }
  var key = form.getAttribute("data-draft-key");
  var notice = document.getElementById("draft-restored");

  function fields() {
    return Array.prototype.filter.call(form.elements, function (el) {
      return el.name && el.name !== "csrf_token" && el.type !== "file" && el.type !== "submit";
    });
  }
  function save() {
    var data = {};
    fields().forEach(function (el) {
      if (el.type === "checkbox") {
        data[el.name + "=" + el.value] = el.checked;
      } else {
        data[el.name] = el.value;
      }
    });
    data._saved = new Date().toISOString();
    try { store.setItem(key, JSON.stringify(data)); } catch (e) { /* storage full: ignore */ }
  }
  function restore() {
    var raw = store.getItem(key);
    if (!raw) { return false; }
    var data;
    try { data = JSON.parse(raw); } catch (e) { return false; }
    fields().forEach(function (el) {
      if (el.type === "checkbox") {
        var k = el.name + "=" + el.value;
        if (k in data) { el.checked = !!data[k]; }
      } else if (el.name in data) {
        el.value = data[el.name];
      }
    });
    return true;
  }
  // A page the server re-rendered with errors already holds the typed values.
  if (!form.hasAttribute("data-has-errors") && restore() && notice) { notice.hidden = false; }
  form.addEventListener("input", save);
  form.addEventListener("change", save);
  var discard = document.getElementById("draft-discard");
  if (discard) {
    discard.addEventListener("click", function () {
      store.removeItem(key);
      window.location.reload();
    });
  }
  save();
})();
