// While a checked workbook is imported (one request, all rows or none), show that the
// work is under way and keep the button from being pressed twice.
(function () {
  "use strict";
  var form = document.getElementById("import-form");
  if (!form) return;
  form.addEventListener("submit", function () {
    var bar = document.getElementById(form.dataset.progress);
    if (bar) bar.hidden = false;
    var button = document.getElementById("import-button");
    if (button) button.disabled = true;
  });
})();
