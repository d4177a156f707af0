// The offer form: show only the fields of the chosen kind. Without JavaScript every group
// shows and the server ignores the ones that do not apply.
(function () {
  "use strict";
  var form = document.getElementById("offer-form");
  if (!form) return;
  var kind = form.querySelector("select[name=kind]");
  function update() {
    form.querySelectorAll(".kind-fields").forEach(function (group) {
      var shown = group.dataset.kind === kind.value ||
        (kind.value === "service" && group.dataset.kind === "meal");
      group.hidden = !shown;
    });
    var days = document.getElementById("field-weekdays");
    var end = document.getElementById("field-window_end");
    var portions = document.getElementById("field-portions_per_window");
    [days, end, portions].forEach(function (el) {
      if (el) el.hidden = kind.value === "service";
    });
  }
  kind.addEventListener("change", update);
  update();
})();
