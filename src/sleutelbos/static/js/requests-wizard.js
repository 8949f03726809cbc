/* The request wizard, a little more convenient with JavaScript; every page works without it.

   - The catalogue search (a GET form) carries what is chosen in the mandate form at the moment it is sent, not only
     what was chosen when the page loaded.
   - The lists of service providers and services show only when the scope chosen needs them. */
(function () {
  "use strict";

  var search = document.querySelector("form[data-carry-from]");
  var form = search && document.getElementById(search.getAttribute("data-carry-from"));
  if (search && form) {
    search.addEventListener("submit", function () {
      Array.prototype.forEach.call(search.querySelectorAll("input[data-carried]"), function (input) {
        if (input.name !== "edit") {
          input.parentNode.removeChild(input);
        }
      });
      Array.prototype.forEach.call(form.elements, function (element) {
        if (!element.name || element.name === "csrfmiddlewaretoken" || element.name === "action" ||
            element.name === "row" || element.type === "submit") {
          return;
        }
        if ((element.type === "checkbox" || element.type === "radio") && !element.checked) {
          return;
        }
        if (!element.value) {
          return;
        }
        var carried = document.createElement("input");
        carried.type = "hidden";
        carried.name = element.name;
        carried.value = element.value;
        carried.setAttribute("data-carried", "");
        search.appendChild(carried);
      });
    });
  }

  if (form) {
    var groups = form.querySelectorAll("[data-scope]");
    var radios = form.querySelectorAll("input[name=scope]");
    var show = function () {
      var chosen = form.querySelector("input[name=scope]:checked");
      Array.prototype.forEach.call(groups, function (group) {
        group.hidden = !chosen || chosen.value !== group.getAttribute("data-scope");
      });
    };
    Array.prototype.forEach.call(radios, function (radio) {
      radio.addEventListener("change", show);
    });
    show();
  }
})();
