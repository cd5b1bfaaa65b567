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

// Runs table (uiruns): the fold/open links of parent runs open and fold their
// nested rows in place (fetching the page that lists them, the link's own URL,
// the first time), and the address keeps which parents are open, as the links
// do without this script.
document.addEventListener("DOMContentLoaded", function () {
  var table = document.querySelector("table.runs");
  if (!table) {
    return;
  }
  function childRows(id) {
    return table.querySelectorAll('tr.child[data-parent="' + CSS.escape(id) + '"]');
  }
  function mark(a, open) {
    a.setAttribute("aria-expanded", open ? "true" : "false");
    a.firstChild.nodeValue = open ? "\u25BE" : "\u25B8";
    var n = a.querySelector(".count").textContent;
    a.title = (open ? "Fold" : "Show") + " the " + n + " nested runs";
  }
  function remember() {
    var url = new URL(window.location.href);
    url.searchParams.delete("open");
    var open = table.querySelectorAll('a.toggle[aria-expanded="true"]');
    if (open.length === 0) {
      url.searchParams.append("open", "");
    }
    open.forEach(function (a) {
      url.searchParams.append("open", a.dataset.run);
    });
    url.hash = "";
    window.history.replaceState(null, "", url.toString());
  }
  // load fetches the rows of parent a's nested runs and puts them after it.
  function load(a) {
    a.setAttribute("aria-busy", "true");
    return fetch(a.href, { credentials: "same-origin" })
      .then(function (res) {
        if (!res.ok) {
          throw new Error("HTTP " + res.status);
        }
        return res.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var rows = doc.querySelectorAll('tr.child[data-parent="' + CSS.escape(a.dataset.run) + '"]');
        var after = a.closest("tr");
        rows.forEach(function (tr) {
          var row = document.importNode(tr, true);
          after.after(row);
          after = row;
        });
      })
      .finally(function () {
        a.removeAttribute("aria-busy");
      });
  }
  function setOpen(a, open) {
    var rows = childRows(a.dataset.run);
    if (open && rows.length === 0) {
      return load(a).then(function () {
        mark(a, true);
      });
    }
    rows.forEach(function (tr) {
      tr.hidden = !open;
    });
    mark(a, open);
    return Promise.resolve();
  }
  function follow(a, ev) {
    // Without fetch, or when it fails, the link does what it does without this script.
    if (!window.fetch || !window.CSS || !CSS.escape) {
      return;
    }
    ev.preventDefault();
    setOpen(a, a.getAttribute("aria-expanded") !== "true").then(remember, function () {
      window.location.href = a.href;
    });
  }
  table.addEventListener("click", function (ev) {
    var a = ev.target.closest("a.toggle");
    if (a) {
      follow(a, ev);
    }
  });
  [["expand-all", true], ["collapse-all", false]].forEach(function (pair) {
    var link = document.getElementById(pair[0]);
    if (!link) {
      return;
    }
    link.addEventListener("click", function (ev) {
      var toggles = table.querySelectorAll("a.toggle");
      var missing = Array.prototype.some.call(toggles, function (a) {
        return pair[1] && childRows(a.dataset.run).length === 0;
      });
      if (missing) {
        return; // the expanded page lists every nested run at once
      }
      ev.preventDefault();
      toggles.forEach(function (a) {
        setOpen(a, pair[1]);
      });
      remember();
    });
  });
});
