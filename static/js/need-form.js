// Show only the fields of the chosen kind of need. Without JavaScript every fieldset shows,
// and the server ignores the fields of the other kinds.
(function () {
  var form = document.getElementById("need-form");
  if (!form) return;
  var kind = form.querySelector("select[name=kind]");
  function sync() {
    form.querySelectorAll("fieldset[data-kind]").forEach(function (fs) {
      fs.hidden = fs.dataset.kind !== kind.value;
    });
  }
  kind.addEventListener("change", sync);
  sync();
})();
