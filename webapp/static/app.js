// Optional enhancement: on narrow screens, fold the facet groups that have nothing selected and
// the charts, so that the hits come first. Without JavaScript every group simply stays open.
(function () {
  "use strict";
  if (!window.matchMedia || !window.matchMedia("(max-width: 52em)").matches) {
    return;
  }
  document.querySelectorAll("details.facet[open]").forEach(function (group) {
    if (!group.querySelector(".is-selected")) {
      group.removeAttribute("open");
    }
  });
  document.querySelectorAll("details[data-fold-on-phone][open]").forEach(function (group) {
    group.removeAttribute("open");
  });
})();
