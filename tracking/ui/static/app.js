// Progressive enhancement only: every page works without this file.
// On a run table, it counts the ticked runs on the Compare button and keeps the
// button disabled until two are ticked.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("compare-form");
  var button = document.getElementById("compare");
  if (!form || !button) {
    return;
  }
  var label = button.textContent;
  function update() {
    var n = form.querySelectorAll('input[name="runs"]:checked').length;
    button.disabled = n < 2;
    button.textContent = n > 0 ? label + " (" + n + ")" : label;
  }
  form.addEventListener("change", update);
  update();
});
