/* gitmonkey static site: sorting and filtering of the tables marked data-table.
 *
 * Loaded with <script defer> (the Content-Security-Policy forbids inline script), so the document is
 * parsed when this runs. Without it the tables are complete and in their default order.
 *
 * A table <table id="T" data-table> works with:
 *   - <th data-sort-key="K" data-sort-type="number|text" data-sort-first="ascending|descending"
 *     aria-sort="..."> holding <button type="button" data-sort="K">: sorts the rows by their data-K
 *     attribute (numbers numerically);
 *   - a container [data-filters-for="T"] (shown by this script) with controls [data-filter="K"]:
 *     a <select> keeps the rows whose data-K equals its value ("" = all); data-filter="text" keeps
 *     the rows whose text contains the typed words (case-insensitive); [data-reset] clears them;
 *   - [data-count-for="T"] data-noun="issues": "N of M issues" (an aria-live region).
 * Filters are kept in the URL fragment (#account=prod&band=critical), so a view can be linked to.
 */
(function () {
  "use strict";

  document.documentElement.dataset.js = "on";

  var collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

  function fragmentParams() {
    var hash = window.location.hash.slice(1);
    if (hash.indexOf("=") < 0) {
      return null;
    }
    try {
      return new URLSearchParams(hash);
    } catch (e) {
      return null;
    }
  }

  function writeFragment(params) {
    var query = params.toString();
    var base = window.location.href.split("#")[0];
    try {
      window.history.replaceState(null, "", query ? base + "#" + query : base);
    } catch (e) {
      /* Some browsers refuse history changes on file:// pages: the filters still work. */
    }
  }

  function setupTable(table) {
    var tbody = table.tBodies[0];
    if (!tbody) {
      return;
    }
    var rows = Array.prototype.slice.call(tbody.rows);
    var texts = rows.map(function (row) {
      return row.textContent.replace(/\s+/g, " ").toLowerCase();
    });

    var controlsBox = document.querySelector('[data-filters-for="' + table.id + '"]');
    var controls = controlsBox ? Array.prototype.slice.call(controlsBox.querySelectorAll("[data-filter]")) : [];
    var count = document.querySelector('[data-count-for="' + table.id + '"]');
    var noun = count ? count.dataset.noun || "rows" : "rows";

    function apply() {
      var words = [];
      var selects = [];
      controls.forEach(function (control) {
        var key = control.dataset.filter;
        var value = control.value;
        if (key === "text") {
          words = value.toLowerCase().split(/\s+/).filter(Boolean);
        } else if (value !== "") {
          selects.push([key, value]);
        }
      });
      var shown = 0;
      rows.forEach(function (row, index) {
        var visible = selects.every(function (pair) {
          return row.getAttribute("data-" + pair[0]) === pair[1];
        }) && words.every(function (word) {
          return texts[index].indexOf(word) >= 0;
        });
        row.hidden = !visible;
        if (visible) {
          shown += 1;
        }
      });
      if (count) {
        count.textContent = shown + " of " + rows.length + " " + noun;
      }
    }

    function save() {
      var params = new URLSearchParams();
      controls.forEach(function (control) {
        if (control.value !== "") {
          params.set(control.dataset.filter, control.value);
        }
      });
      writeFragment(params);
    }

    function restore() {
      var params = fragmentParams();
      if (!params) {
        return;
      }
      controls.forEach(function (control) {
        var value = params.get(control.dataset.filter);
        if (value === null) {
          return;
        }
        if (control.tagName === "SELECT") {
          var known = Array.prototype.some.call(control.options, function (option) {
            return option.value === value;
          });
          control.value = known ? value : "";
        } else {
          control.value = value;
        }
      });
    }

    controls.forEach(function (control) {
      control.addEventListener(control.tagName === "SELECT" ? "change" : "input", function () {
        apply();
        save();
      });
    });
    if (controlsBox) {
      controlsBox.hidden = false;
      var reset = controlsBox.querySelector("[data-reset]");
      if (reset) {
        reset.addEventListener("click", function () {
          controls.forEach(function (control) {
            control.value = "";
          });
          apply();
          save();
        });
      }
      /* Enter in the search box must not submit anything (form-action 'none'). */
      controlsBox.addEventListener("submit", function (event) {
        event.preventDefault();
      });
    }

    var headers = Array.prototype.slice.call(table.tHead ? table.tHead.querySelectorAll("th[data-sort-key]") : []);

    function sortBy(header, direction) {
      var key = header.dataset.sortKey;
      var numeric = header.dataset.sortType === "number";
      var sign = direction === "ascending" ? 1 : -1;
      var keyed = rows.map(function (row, index) {
        var raw = row.getAttribute("data-" + key) || "";
        var value = raw;
        if (numeric) {
          value = parseFloat(raw);
          value = isNaN(value) ? -Infinity : value;
        }
        return { row: row, value: value, order: index };
      });
      keyed.sort(function (a, b) {
        var result = numeric
          ? (a.value === b.value ? 0 : a.value < b.value ? -1 : 1)
          : collator.compare(a.value, b.value);
        return result * sign || a.order - b.order;
      });
      var fragment = document.createDocumentFragment();
      keyed.forEach(function (entry) {
        fragment.appendChild(entry.row);
      });
      tbody.appendChild(fragment);
      headers.forEach(function (other) {
        other.setAttribute("aria-sort", other === header ? direction : "none");
      });
    }

    headers.forEach(function (header) {
      var button = header.querySelector("button[data-sort]");
      if (!button) {
        return;
      }
      button.addEventListener("click", function () {
        var current = header.getAttribute("aria-sort");
        var direction;
        if (current === "ascending") {
          direction = "descending";
        } else if (current === "descending") {
          direction = "ascending";
        } else {
          direction = header.dataset.sortFirst === "descending" ? "descending" : "ascending";
        }
        sortBy(header, direction);
      });
    });

    restore();
    apply();
    window.addEventListener("hashchange", function () {
      if (fragmentParams()) {
        restore();
        apply();
      }
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("table[data-table]"), setupTable);
})();
