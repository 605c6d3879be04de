// Optional enhancement: suggestions under the search box as the person types, from
// /api/suggest. The box becomes a combobox with a listbox (WAI-ARIA 1.2): arrow keys move
// through the suggestions, Enter picks one and searches, Escape closes the list. Without
// JavaScript the box stays a plain search field and the form works the same.
(function () {
  "use strict";
  var DELAY = 120; // ms after the last keystroke before asking

  document.querySelectorAll("input[data-suggest]").forEach(enhance);

  function enhance(input) {
    var form = input.form;
    var listId = input.id + "-suggestions";
    var list = document.createElement("ul");
    var status = document.createElement("p");
    var timer = null;
    var latest = 0; // only the answer to the latest request is shown
    var asked = null;
    var options = [];
    var active = -1;

    list.id = listId;
    list.className = "suggestions";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", "入力候補");
    list.hidden = true;
    status.className = "visually-hidden";
    status.setAttribute("role", "status");
    input.parentNode.appendChild(list);
    input.parentNode.appendChild(status);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", listId);

    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(ask, DELAY);
    });
    input.addEventListener("keydown", onKey);
    input.addEventListener("blur", close);
    // Once the search is on its way, a late suggestion would only be in the way.
    form.addEventListener("submit", function () {
      window.clearTimeout(timer);
      latest += 1;
      close();
    });
    // Keep the focus in the box while a suggestion is clicked.
    list.addEventListener("mousedown", function (event) {
      event.preventDefault();
    });
    list.addEventListener("click", function (event) {
      var option = event.target.closest("[role=option]");
      if (option) {
        choose(option);
      }
    });

    function ask() {
      var query = input.value;
      if (query === asked) {
        return;
      }
      asked = query;
      if (!query.trim()) {
        render([]);
        return;
      }
      var ticket = ++latest;
      var params = new URLSearchParams({ q: query });
      form.querySelectorAll("input[type=hidden]").forEach(function (hidden) {
        params.append(hidden.name, hidden.value);
      });
      fetch(input.dataset.suggest + "?" + params.toString(), {
        headers: { Accept: "application/json" },
      })
        .then(function (response) {
          return response.ok ? response.json() : { suggestions: [] };
        })
        .then(function (data) {
          if (ticket === latest && document.activeElement === input) {
            render(data.suggestions || []);
          }
        })
        .catch(function () {
          render([]);
        });
    }

    function render(suggestions) {
      list.textContent = "";
      options = suggestions.map(function (suggestion, number) {
        var option = document.createElement("li");
        var text = document.createElement("span");
        var count = document.createElement("span");
        option.id = listId + "-" + number;
        option.className = "suggestion";
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        option.dataset.value = suggestion.text;
        text.className = "suggestion-text";
        text.textContent = suggestion.text;
        count.className = "suggestion-count";
        count.textContent = " " + suggestion.count + "件";
        option.appendChild(text);
        option.appendChild(count);
        list.appendChild(option);
        return option;
      });
      if (options.length) {
        open();
        status.textContent =
          "候補が" + options.length + "件あります。上下の矢印キーで選び、Enterで検索します。";
      } else {
        close();
        status.textContent = "";
      }
    }

    function open() {
      active = -1;
      input.removeAttribute("aria-activedescendant");
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }

    function close() {
      active = -1;
      input.removeAttribute("aria-activedescendant");
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
    }

    function move(step) {
      if (!options.length) {
        return;
      }
      if (list.hidden) {
        open();
      }
      if (active < 0) {
        active = step > 0 ? 0 : options.length - 1;
      } else {
        active = (active + step + options.length) % options.length;
      }
      options.forEach(function (option, number) {
        var selected = number === active;
        option.setAttribute("aria-selected", selected ? "true" : "false");
        option.classList.toggle("is-active", selected);
      });
      input.setAttribute("aria-activedescendant", options[active].id);
      options[active].scrollIntoView({ block: "nearest" });
    }

    function choose(option) {
      input.value = option.dataset.value;
      asked = input.value;
      close();
      if (form.requestSubmit) {
        form.requestSubmit();
      } else {
        form.submit();
      }
    }

    function onKey(event) {
      if (event.isComposing || event.keyCode === 229) {
        return; // the key belongs to the input method (kana to kanji), not to the list
      }
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        if (options.length) {
          event.preventDefault();
          move(event.key === "ArrowDown" ? 1 : -1);
        }
      } else if (event.key === "Enter") {
        if (!list.hidden && active >= 0) {
          event.preventDefault();
          choose(options[active]);
        }
      } else if (event.key === "Escape") {
        if (!list.hidden) {
          event.preventDefault();
          close();
        }
      } else if (event.key === "Tab") {
        close();
      }
    }
  }
})();
