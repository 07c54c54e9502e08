// sextant graph page: pan by dragging and zoom (wheel, +/- buttons) by changing the picture's
// viewBox, and on hover or keyboard focus of a node, the path from the focused entity to it
// emphasised (class hover-path, from the node's data-path). The page works without this file
// (the server already emphasises a selected node's path). It never writes markup (no innerHTML).
(function () {
  "use strict";

  var frame = document.getElementById("graph-frame");
  var svg = frame && frame.querySelector("svg.dependency-graph");
  if (!svg || !svg.getScreenCTM) return;
  var parts = (svg.getAttribute("viewBox") || "").trim().split(/[\s,]+/).map(Number);
  if (parts.length !== 4 || parts.some(function (part) { return !isFinite(part); }) || parts[2] <= 0 || parts[3] <= 0) return;

  var home = { x: parts[0], y: parts[1], w: parts[2], h: parts[3] };
  var view = { x: home.x, y: home.y, w: home.w, h: home.h };
  // Zoom from a tenth of the picture's size out to forty times in.
  var MIN_SCALE = 0.1;
  var MAX_SCALE = 40;

  frame.classList.add("interactive");
  var toolbar = document.getElementById("graph-toolbar");
  if (toolbar) toolbar.hidden = false;

  function apply() {
    svg.setAttribute("viewBox", [view.x, view.y, view.w, view.h].map(function (value) { return value.toFixed(2); }).join(" "));
  }

  // A client (screen) point in the picture's coordinates.
  function toPicture(clientX, clientY) {
    var matrix = svg.getScreenCTM();
    if (!matrix) return { x: view.x + view.w / 2, y: view.y + view.h / 2 };
    var point = svg.createSVGPoint();
    point.x = clientX;
    point.y = clientY;
    return point.matrixTransform(matrix.inverse());
  }

  function zoomAt(factor, clientX, clientY) {
    var scale = home.w / view.w;
    var next = Math.min(MAX_SCALE, Math.max(MIN_SCALE, scale * factor));
    if (next === scale) return;
    var centre = toPicture(clientX, clientY);
    var ratio = scale / next;
    view.x = centre.x - (centre.x - view.x) * ratio;
    view.y = centre.y - (centre.y - view.y) * ratio;
    view.w *= ratio;
    view.h *= ratio;
    apply();
  }

  function zoomAtCentre(factor) {
    var box = svg.getBoundingClientRect();
    zoomAt(factor, box.left + box.width / 2, box.top + box.height / 2);
  }

  function reset() {
    view = { x: home.x, y: home.y, w: home.w, h: home.h };
    apply();
  }

  svg.addEventListener("wheel", function (event) {
    event.preventDefault();
    var delta = event.deltaY * (event.deltaMode === 1 ? 16 : event.deltaMode === 2 ? 400 : 1);
    zoomAt(Math.exp(-delta * 0.0015), event.clientX, event.clientY);
  }, { passive: false });

  if (toolbar) {
    toolbar.addEventListener("click", function (event) {
      var button = event.target.closest ? event.target.closest("button[data-zoom]") : null;
      if (!button) return;
      var action = button.getAttribute("data-zoom");
      if (action === "in") zoomAtCentre(1.25);
      else if (action === "out") zoomAtCentre(0.8);
      else reset();
    });
  }

  // Panning: a drag moves the view; a drag does not follow the link it started on.
  var drag = null;
  var dragged = false;
  svg.addEventListener("pointerdown", function (event) {
    if (event.button !== 0) return;
    var matrix = svg.getScreenCTM();
    drag = { id: event.pointerId, x: event.clientX, y: event.clientY, view: { x: view.x, y: view.y }, scale: matrix ? matrix.a : 1, moved: false };
    dragged = false;
  });
  svg.addEventListener("pointermove", function (event) {
    if (!drag || event.pointerId !== drag.id) return;
    var dx = event.clientX - drag.x;
    var dy = event.clientY - drag.y;
    if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 5) return;
    if (!drag.moved) {
      drag.moved = true;
      frame.classList.add("dragging");
      if (svg.setPointerCapture) svg.setPointerCapture(event.pointerId);
    }
    view.x = drag.view.x - dx / (drag.scale || 1);
    view.y = drag.view.y - dy / (drag.scale || 1);
    apply();
  });
  function endDrag(event) {
    if (!drag || event.pointerId !== drag.id) return;
    dragged = drag.moved;
    drag = null;
    frame.classList.remove("dragging");
  }
  svg.addEventListener("pointerup", endDrag);
  svg.addEventListener("pointercancel", endDrag);
  svg.addEventListener("click", function (event) {
    if (dragged) {
      event.preventDefault();
      event.stopPropagation();
      dragged = false;
    }
  }, true);

  // The path from the focus to a hovered or focused node.
  var nodes = svg.querySelectorAll("g.node[data-ref]");
  var edges = svg.querySelectorAll("g.edge");
  var emphasised = null;

  function clear() {
    if (!emphasised) return;
    emphasised = null;
    svg.classList.remove("hovering");
    var marked = svg.querySelectorAll(".hover-path");
    for (var i = 0; i < marked.length; i++) marked[i].classList.remove("hover-path");
  }

  function emphasise(node) {
    if (node === emphasised) return;
    clear();
    var path = (node.getAttribute("data-path") || "").split(" ").filter(function (step) { return step; });
    if (!path.length) return;
    var onPath = Object.create(null);
    var steps = Object.create(null);
    for (var i = 0; i < path.length; i++) {
      onPath[path[i]] = true;
      if (i > 0) {
        steps[path[i - 1] + "\n" + path[i]] = true;
        steps[path[i] + "\n" + path[i - 1]] = true;
      }
    }
    for (var n = 0; n < nodes.length; n++) {
      if (onPath[nodes[n].getAttribute("data-ref")] === true) nodes[n].classList.add("hover-path");
    }
    for (var e = 0; e < edges.length; e++) {
      var key = edges[e].getAttribute("data-source") + "\n" + edges[e].getAttribute("data-target");
      if (steps[key] === true) edges[e].classList.add("hover-path");
    }
    emphasised = node;
    svg.classList.add("hovering");
  }

  function nodeOf(target) {
    return target && target.closest ? target.closest("g.node[data-ref]") : null;
  }

  svg.addEventListener("mouseover", function (event) {
    if (drag && drag.moved) return;
    var node = nodeOf(event.target);
    if (node) emphasise(node);
  });
  svg.addEventListener("mouseout", function (event) {
    var node = nodeOf(event.target);
    if (node && !node.contains(event.relatedTarget)) clear();
  });
  svg.addEventListener("focusin", function (event) {
    var node = nodeOf(event.target);
    if (node) emphasise(node);
  });
  svg.addEventListener("focusout", clear);
})();
