// Progressive enhancement of the run charts: every chart is drawn by the
// server and its forms work without this file. It adds two things:
// hovering or focusing a run (in a chart or in the legend) highlights it in
// every chart of the page; and changing a chart's select submits its form.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("plots");
  if (!root) {
    return;
  }
  var current = null;
  function highlight(run) {
    if (run === current) {
      return;
    }
    current = run;
    root.querySelectorAll(".hl").forEach(function (el) { el.classList.remove("hl"); });
    if (run === null) {
      root.classList.remove("hl-on");
      return;
    }
    root.querySelectorAll('[data-run="' + run + '"]').forEach(function (el) {
      el.classList.add("hl");
      if (el.parentNode && el.tagName !== "LI") {
        el.parentNode.appendChild(el); // draw it on top
      }
    });
    root.classList.add("hl-on");
  }
  function runOf(target) {
    var el = target.closest ? target.closest("[data-run]") : null;
    return el && root.contains(el) ? el.getAttribute("data-run") : null;
  }
  root.addEventListener("mouseover", function (e) { highlight(runOf(e.target)); });
  root.addEventListener("mouseleave", function () { highlight(null); });
  root.addEventListener("focusin", function (e) { highlight(runOf(e.target)); });
  root.addEventListener("focusout", function () { highlight(null); });
  root.querySelectorAll("form.chart-form select").forEach(function (sel) {
    sel.addEventListener("change", function () { sel.form.submit(); });
  });
});
