// sextant dashboard enhancements. Every page works without this file; it adds search as you
// type and keyboard shortcuts. It builds the DOM with textContent only (never innerHTML), so
// nothing the server sends can become markup.
(function () {
  "use strict";

  var box = document.getElementById("search-box");
  var list = document.getElementById("suggestions");
  if (!box || !list) return;

  var timer = null;
  var latest = 0;
  var selected = -1;

  function items() { return list.querySelectorAll("a"); }

  function close() {
    list.hidden = true;
    selected = -1;
    box.setAttribute("aria-expanded", "false");
  }

  function highlight(index) {
    var links = items();
    for (var i = 0; i < links.length; i++) links[i].setAttribute("aria-selected", i === index ? "true" : "false");
    selected = index;
    if (index >= 0 && links[index]) links[index].focus();
  }

  function show(hits) {
    while (list.firstChild) list.removeChild(list.firstChild);
    if (!hits.length) { close(); return; }
    hits.forEach(function (hit) {
      var item = document.createElement("li");
      item.setAttribute("role", "option");
      var link = document.createElement("a");
      link.href = hit.href;
      link.textContent = hit.title;
      var kind = document.createElement("span");
      kind.className = "kind";
      kind.textContent = hit.kind + (hit.owner ? " · " + hit.owner : "");
      link.appendChild(kind);
      item.appendChild(link);
      list.appendChild(item);
    });
    list.hidden = false;
    box.setAttribute("aria-expanded", "true");
  }

  function suggest() {
    var query = box.value.trim();
    var ticket = ++latest; // an answer to an earlier query that arrives late is dropped
    if (!query) { close(); return; }
    fetch("/search/suggest?q=" + encodeURIComponent(query), { headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : []; })
      .then(function (hits) { if (ticket === latest) show(Array.isArray(hits) ? hits : []); })
      .catch(function () { if (ticket === latest) close(); });
  }

  box.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(suggest, 120);
  });
  box.addEventListener("keydown", function (event) {
    if (event.key === "ArrowDown" && !list.hidden) { event.preventDefault(); highlight(0); }
    if (event.key === "Escape") close();
  });
  list.addEventListener("keydown", function (event) {
    var links = items();
    if (event.key === "ArrowDown") { event.preventDefault(); highlight(Math.min(selected + 1, links.length - 1)); }
    if (event.key === "ArrowUp") {
      event.preventDefault();
      if (selected <= 0) { highlight(-1); box.focus(); } else highlight(selected - 1);
    }
    if (event.key === "Escape") { close(); box.focus(); }
  });
  document.addEventListener("click", function (event) {
    if (event.target !== box && !list.contains(event.target)) close();
  });
  document.addEventListener("keydown", function (event) {
    var typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement && document.activeElement.tagName);
    if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      box.focus();
      box.select();
    }
  });
})();
