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

// Runs table (uiruns): the fold/open links of parent runs toggle their nested
// rows in place, and the address keeps which parents are open, as the links'
// own URLs do without this script.
document.addEventListener("DOMContentLoaded", function () {
  var table = document.querySelector("table.runs");
  if (!table) {
    return;
  }
  function openIDs() {
    var ids = [];
    table.querySelectorAll('a.toggle[aria-expanded="true"]').forEach(function (a) {
      ids.push(a.dataset.run);
    });
    return ids;
  }
  function setOpen(a, open) {
    a.setAttribute("aria-expanded", open ? "true" : "false");
    a.firstChild.nodeValue = open ? "\u25BE" : "\u25B8";
    var n = a.querySelector(".count").textContent;
    a.title = (open ? "Fold" : "Show") + " the " + n + " nested runs";
    table.querySelectorAll('tr.child[data-parent="' + a.dataset.run + '"]').forEach(function (tr) {
      tr.hidden = !open;
    });
  }
  function remember() {
    var url = new URL(window.location.href);
    url.searchParams.delete("open");
    var ids = openIDs();
    if (ids.length === 0) {
      url.searchParams.append("open", "");
    }
    ids.forEach(function (id) {
      url.searchParams.append("open", id);
    });
    url.hash = "";
    window.history.replaceState(null, "", url.toString());
  }
  table.addEventListener("click", function (ev) {
    var a = ev.target.closest("a.toggle");
    if (!a) {
      return;
    }
    ev.preventDefault();
    setOpen(a, a.getAttribute("aria-expanded") !== "true");
    remember();
  });
  [["expand-all", true], ["collapse-all", false]].forEach(function (pair) {
    var link = document.getElementById(pair[0]);
    if (!link) {
      return;
    }
    link.addEventListener("click", function (ev) {
      ev.preventDefault();
      table.querySelectorAll("a.toggle").forEach(function (a) {
        setOpen(a, pair[1]);
      });
      remember();
    });
  });
});
