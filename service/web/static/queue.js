// Keyboard operation and live updates for the queue. Plain JS, no build step.
// Keys never fire while the moderator types into a field (except Enter/Escape in the reason list).
(function () {
  "use strict";

  function typing(ev) {
    var t = ev.target;
    return t && (t.tagName === "TEXTAREA" || t.tagName === "SELECT" ||
      (t.tagName === "INPUT" && !/^(checkbox|radio|submit|button)$/.test(t.type)));
  }

  function help() {
    var dlg = document.getElementById("help");
    if (dlg && !dlg.open) { dlg.showModal(); }
  }

  document.addEventListener("click", function (ev) {
    if (ev.target.closest && ev.target.closest("[data-help]")) { help(); }
  });

  document.querySelectorAll("[data-autosubmit]").forEach(function (el) {
    el.addEventListener("change", function () { el.form.submit(); });
  });

  // ---- the queue list ----
  var rows = Array.prototype.slice.call(document.querySelectorAll("#rows .row"));
  var current = -1;

  // The place is remembered per site, filter and page, however the URL was spelled.
  function placeKey() {
    var list = document.getElementById("rows");
    return "queue-pos:" + (list ? list.dataset.placeKey : location.search);
  }

  function focusRow(i) {
    if (!rows.length) { return; }
    current = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach(function (r, n) { r.classList.toggle("current", n === current); });
    rows[current].focus();
    try { sessionStorage.setItem(placeKey(), rows[current].dataset.id); } catch (e) { /* private mode */ }
  }

  function updateSelected() {
    var n = document.querySelectorAll("#rows input[name=ids]:checked").length;
    var out = document.getElementById("selected-count");
    if (out) { out.textContent = out.textContent.replace(/^\d+/, String(n)); }
  }

  rows.forEach(function (r, n) {
    r.addEventListener("focus", function () { current = n; rows.forEach(function (x, m) { x.classList.toggle("current", m === n); }); });
    r.addEventListener("click", function (ev) {
      if (ev.target.tagName === "INPUT" || ev.target.tagName === "A") { return; }
      location.href = r.dataset.href;
    });
    var box = r.querySelector("input[type=checkbox]");
    box.addEventListener("change", function () { r.classList.toggle("selected", box.checked); updateSelected(); });
  });

  if (rows.length) {
    // Come back to the row the moderator was on (after opening an item or a live refresh).
    var remembered = null;
    try { remembered = sessionStorage.getItem(placeKey()); } catch (e) { /* ignore */ }
    var at = rows.findIndex(function (r) { return r.dataset.id === remembered; });
    focusRow(at >= 0 ? at : 0);
  }

  function bulk(decision) {
    var form = document.getElementById("bulk-form");
    var checked = form.querySelectorAll("input[name=ids]:checked");
    if (!checked.length && current >= 0) { rows[current].querySelector("input[type=checkbox]").checked = true; }
    var btn = form.querySelector("button[value=" + decision + "]");
    form.requestSubmit(btn);
  }

  // ---- the item view ----
  var layout = document.querySelector(".item-layout");
  var decideForm = document.getElementById("decide-form");

  function startReject() {
    if (!decideForm) { return; }
    decideForm.classList.add("rejecting");
    var first = decideForm.querySelector("input[name=template]:checked") || decideForm.querySelector("input[name=template]");
    if (first) { first.focus(); } else { document.getElementById("reason-text").focus(); }
  }

  function pickReason(n) {
    var radios = decideForm ? decideForm.querySelectorAll("input[name=template]") : [];
    if (radios[n]) { radios[n].checked = true; radios[n].focus(); }
  }

  if (decideForm) {
    decideForm.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && ev.target.name === "template") {
        ev.preventDefault();
        ev.target.checked = true;  // Enter on the focused reason means this reason
        decideForm.requestSubmit(document.getElementById("reject"));
      }
      if (ev.key === "Enter" && ev.target.id === "reason-text" && !ev.shiftKey && decideForm.classList.contains("rejecting")) {
        ev.preventDefault();
        decideForm.requestSubmit(document.getElementById("reject"));
      }
      if (ev.key === "Escape") { decideForm.classList.remove("rejecting"); ev.target.blur(); }
    });
  }

  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    var rejecting = decideForm && decideForm.classList.contains("rejecting");
    if (rejecting && /^[1-9]$/.test(ev.key) && !typing(ev)) { pickReason(Number(ev.key) - 1); ev.preventDefault(); return; }
    if (typing(ev)) { return; }
    if (ev.key === "?") { help(); ev.preventDefault(); return; }
    if (ev.key === "u") {
      var undo = document.getElementById("undo-form");
      if (undo) { undo.requestSubmit(); ev.preventDefault(); }
      return;
    }
    if (rows.length) {
      if (ev.key === "j") { focusRow(current + 1); ev.preventDefault(); }
      else if (ev.key === "k") { focusRow(current - 1); ev.preventDefault(); }
      else if ((ev.key === "o" || ev.key === "Enter") && current >= 0 && document.activeElement === rows[current]) {
        location.href = rows[current].dataset.href; ev.preventDefault();
      } else if (ev.key === "x" && current >= 0) {
        var box = rows[current].querySelector("input[type=checkbox]");
        box.checked = !box.checked; box.dispatchEvent(new Event("change")); ev.preventDefault();
      } else if (ev.key === "a") { bulk("approved"); ev.preventDefault(); }
      else if (ev.key === "r") { bulk("rejected"); ev.preventDefault(); }
      else if (ev.key === ".") { var link = document.getElementById("live-link"); location.href = link.href; }
      return;
    }
    if (layout) {
      if (ev.key === "a" && decideForm && !rejecting) { decideForm.requestSubmit(document.getElementById("approve")); ev.preventDefault(); }
      else if (ev.key === "r" && decideForm) { startReject(); ev.preventDefault(); }
      else if (ev.key === "n") { var note = document.getElementById("note-text"); if (note) { note.focus(); ev.preventDefault(); } }
      else if (ev.key === "j" && layout.dataset.next) { location.href = layout.dataset.next; }
      else if (ev.key === "b" || ev.key === "Escape") { location.href = layout.dataset.back; }
    }
  });

  // ---- counts and live updates on the list ----
  var live = document.getElementById("live");
  if (live) {
    fetch(live.dataset.facets, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : null; }).then(function (data) {
      if (!data) { return; }
      document.querySelectorAll("[data-count]").forEach(function (el) {
        var key = el.dataset.count;
        if (key === "total") { el.textContent = data.total; return; }
        var parts = key.split(":"); var group = data[parts[0]];
        if (group && group[parts[1]] !== undefined) { el.textContent = group[parts[1]]; }
      });
    }).catch(function () { /* counts are a convenience */ });

    var since = live.dataset.since;
    var lang = document.documentElement.lang;
    var poll = function () {
      var url = live.dataset.poll + "&since=" + encodeURIComponent(since);
      fetch(url, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : null; }).then(function (data) {
        if (!data || !data.new) { return; }
        var link = document.getElementById("live-link");
        link.textContent = lang === "de"
          ? data.new + " neue Einreichung(en) – anzeigen (.)"
          : data.new + " new submission(s) – show (.)";
        live.hidden = false;  // the list itself stays as it is: the moderator keeps their place
      }).catch(function () { /* try again next round */ });
    };
    setInterval(poll, Number(live.dataset.interval) || 15000);
  }
})();
