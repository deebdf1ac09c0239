// mhmailbox trace viewer: step through a run on its sequence chart.
// Everything the page shows comes from the JSON in #mh-data and is written as text
// (textContent, createElement), never as markup: names in a trace cannot inject HTML.
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("mh-data").textContent);
  const SVG = "http://www.w3.org/2000/svg";
  const ROW = 24, TOP = 18, WIDTH = 980;
  const X = {};
  DATA.lanes.forEach(function (lane, i) { X[lane] = 140 + i * ((WIDTH - 280) / (DATA.lanes.length - 1)); });
  let trace = 0, cur = 0;

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = String(text);
    return e;
  }
  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = String(text);
    return e;
  }
  function short(s, n) { s = String(s); return s.length > n ? s.slice(0, n - 1) + "\u2026" : s; }
  function steps() { return DATA.traces.length ? DATA.traces[trace].steps : []; }

  // the lane names stay in sight while the chart scrolls (a sticky row above it)
  function drawLanes() {
    const box = document.getElementById("lanes");
    box.style.width = WIDTH + "px";
    DATA.lanes.forEach(function (lane) {
      const e = el("span", {"class": "lane"}, lane);
      e.style.left = X[lane] + "px";
      box.appendChild(e);
    });
  }

  function drawChart() {
    const t = DATA.traces[trace], chart = document.getElementById("chart");
    while (chart.firstChild) chart.removeChild(chart.firstChild);
    const h = TOP + t.steps.length * ROW + 16;
    chart.setAttribute("width", WIDTH); chart.setAttribute("height", h);
    chart.setAttribute("viewBox", "0 0 " + WIDTH + " " + h);
    const defs = svg("defs");
    const marker = svg("marker", {id: "arrow", viewBox: "0 0 10 10", refX: "9", refY: "5",
                                  markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse"});
    marker.appendChild(svg("path", {d: "M0,0 L10,5 L0,10 z", "class": "arrowhead"}));
    defs.appendChild(marker); chart.appendChild(defs);
    DATA.lanes.forEach(function (lane) {
      chart.appendChild(svg("line", {x1: X[lane], x2: X[lane], y1: 4, y2: h - 8, "class": "lifeline"}));
    });
    t.steps.forEach(function (s, i) {
      const y = TOP + i * ROW, g = svg("g", {"class": "row" + (i === t.violating ? " violating" : ""),
                                             "data-step": i});
      g.appendChild(svg("rect", {x: 0, y: y - ROW / 2, width: WIDTH, height: ROW, "class": "hit"}));
      g.appendChild(svg("text", {x: 8, y: y + 4, "class": "num"}, i));
      const x = X[s.lane] !== undefined ? X[s.lane] : X[DATA.lanes[0]];
      const mem = X["Memory"] !== undefined ? X["Memory"] : x;
      let label = s.label;
      if (i === t.violating) label = "\u2717 " + label;
      if ((s.kind === "write" || s.kind === "read") && x !== mem) {
        const from = s.kind === "write" ? x : mem, to = s.kind === "write" ? mem : x;
        g.appendChild(svg("line", {x1: from, x2: to, y1: y + 6, y2: y + 6,
                                   "class": "msg " + s.kind, "marker-end": "url(#arrow)"}));
        g.appendChild(svg("text", {x: (x + mem) / 2, y: y + 1, "class": "msglabel"}, short(label, 58)));
      } else {
        // a note reads away from the chart's edge: rightwards from the first lane, leftwards from the last
        const first = x === X[DATA.lanes[0]], last = x === X[DATA.lanes[DATA.lanes.length - 1]];
        const note = svg("text", {x: first ? x + 8 : last ? x - 8 : x, y: y + 4, "class": "note " + s.kind,
                                  "text-anchor": first ? "start" : last ? "end" : "middle"}, short(label, 64));
        g.appendChild(note);
      }
      g.appendChild(svg("title", {}, i + ". " + s.label));
      g.addEventListener("click", function () { select(i); });
      chart.appendChild(g);
    });
  }

  function table(head, rows) {
    const tb = el("table");
    const tr = el("tr");
    head.forEach(function (h) { tr.appendChild(el("th", {}, h)); });
    tb.appendChild(tr);
    rows.forEach(function (r) {
      const row = el("tr", r.cls ? {"class": r.cls} : {});
      r.cells.forEach(function (c) { row.appendChild(el("td", {}, c)); });
      tb.appendChild(row);
    });
    return tb;
  }

  function section(box, title, content) {
    box.appendChild(el("h3", {}, title));
    box.appendChild(content);
  }

  function showState() {
    const t = DATA.traces[trace], s = t.steps[cur], st = s.state || {};
    const prev = cur > 0 ? (t.steps[cur - 1].state || {}) : {};
    const box = document.getElementById("state");
    while (box.firstChild) box.removeChild(box.firstChild);
    const head = el("h2", {id: "step-title"}, "Step " + cur + " of " + (t.steps.length - 1) +
                    (st.actor && st.actor !== "init" ? ": " + st.actor : ""));
    box.appendChild(head);
    box.appendChild(el("p", {id: "step-text", "class": "what"}, s.label));
    if (cur === t.violating) box.appendChild(el("p", {"class": "violation"}, "\u2717 " + t.violating_text));
    if (st.then && st.then.length) box.appendChild(el("p", {"class": "then"}, "then: " + st.then.join("; ")));
    if (st.model_steps) {
      box.appendChild(el("p", {"class": "then"}, "model steps: " +
                            (st.model_steps.length ? st.model_steps.join("; ") : "(none)")));
    }
    if (st.memory) {
      const by = st.written_by || {}, was = prev.memory || {};
      const rows = Object.keys(st.memory).map(function (f) {
        const changed = cur > 0 && was[f] !== st.memory[f];
        return {cells: [f, st.memory[f], by[f] !== undefined ? by[f] : ""], cls: changed ? "changed" : ""};
      });
      section(box, "Shared fields", table(["field", "value", "written by"], rows));
    }
    if (st.buffers) {
      const rows = Object.keys(st.buffers).map(function (who) {
        const e = st.buffers[who];
        return {cells: [who, e.length ? e.map(function (x) {
          return x[0] + "=" + x[1] + (x.length > 2 ? " (" + x[2] + ")" : "");
        }).join(", ") : "empty"]};
      });
      section(box, "Store buffers (oldest first)", table(["thread", "pending writes"], rows));
    }
    if (st.stale_views && Object.keys(st.stale_views).length) {
      const rows = Object.keys(st.stale_views).map(function (who) {
        const v = st.stale_views[who];
        return {cells: [who, Object.keys(v).map(function (k) { return k + "=" + v[k]; }).join(", ")]};
      });
      section(box, "Stale views", table(["thread", "still sees"], rows));
    }
    if (st.clock) {
      const c = st.clock;
      const rows = [{cells: ["t", c.t]}, {cells: ["deadline", c.deadline]}, {cells: ["quantum", c.quantum]}];
      if (st.host_command !== undefined) rows.push({cells: ["host on command", "#" + st.host_command]});
      section(box, "Clock (host ticks)", table(["", "value"], rows));
    }
    const at = Object.keys(st).filter(function (k) { return /_at$/.test(k); });
    if (at.length) {
      section(box, "Position in the procedure", table(["side", "at"], at.map(function (k) {
        const changed = cur > 0 && prev[k] !== st[k];
        return {cells: [k.replace(/_at$/, ""), st[k]], cls: changed ? "changed" : ""};
      })));
    }
    if (st.params && Object.keys(st.params).length) {
      section(box, "Choices of this step", table(["name", "value"], Object.keys(st.params).map(function (k) {
        return {cells: [k, st.params[k]]};
      })));
    }
    document.getElementById("position").textContent = cur + " / " + (t.steps.length - 1);
    document.body.setAttribute("data-step", String(cur));
  }

  function showInfo() {
    const t = DATA.traces[trace], box = document.getElementById("info");
    while (box.firstChild) box.removeChild(box.firstChild);
    if (t.property_text) box.appendChild(el("p", {}, t.property + ": " + t.property_text));
    (t.info || []).forEach(function (kv) {
      box.appendChild(el("h3", {}, kv[0]));
      box.appendChild(el(kv[1].indexOf("\n") >= 0 ? "pre" : "p", {}, kv[1]));
    });
  }

  function select(i) {
    const n = steps().length;
    if (!n) return;
    cur = Math.max(0, Math.min(n - 1, i));
    document.querySelectorAll("#chart g.row").forEach(function (g) {
      g.classList.toggle("current", Number(g.getAttribute("data-step")) === cur);
    });
    const row = document.querySelector("#chart g.row.current");
    if (row && row.scrollIntoView) row.scrollIntoView({block: "nearest"});
    showState();
  }

  function showTrace(k, step) {
    trace = Math.max(0, Math.min(DATA.traces.length - 1, k));
    const t = DATA.traces[trace];
    document.getElementById("title").textContent = t.title;
    document.getElementById("subtitle").textContent = t.subtitle;
    drawChart(); showInfo();
    select(step === "mark" ? (t.violating === null ? 0 : t.violating) : Number(step) || 0);
  }

  // #step=N opens step N, #step=mark the marked (violating) one; #trace=K picks a trace
  function fromHash() {
    const m = /(?:^|[#&])trace=(\d+)/.exec(location.hash), s = /(?:^|[#&])step=(\d+|mark)/.exec(location.hash);
    return [m ? Number(m[1]) : 0, s ? s[1] : 0];
  }

  document.addEventListener("keydown", function (e) {
    if (e.target && e.target.tagName === "SELECT") return;
    const moves = {ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1};
    if (e.key in moves) { select(cur + moves[e.key]); e.preventDefault(); }
    else if (e.key === "Home") { select(0); e.preventDefault(); }
    else if (e.key === "End") { select(steps().length - 1); e.preventDefault(); }
  });
  document.getElementById("prev").addEventListener("click", function () { select(cur - 1); });
  document.getElementById("next").addEventListener("click", function () { select(cur + 1); });
  const pick = document.getElementById("pick");
  if (DATA.traces.length > 1) {
    DATA.traces.forEach(function (t, i) { pick.appendChild(el("option", {value: String(i)}, t.title)); });
    document.getElementById("picker").hidden = false;
    pick.addEventListener("change", function () { showTrace(Number(pick.value), 0); });
  }
  if (!DATA.traces.length) {
    document.getElementById("title").textContent = "No counterexample in this run";
    return;
  }
  drawLanes();
  const h = fromHash();
  pick.value = String(h[0]);
  showTrace(h[0], h[1]);
})();
