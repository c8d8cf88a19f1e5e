// Facets fold away on a narrow screen; once the user opens or closes them, every htmx swap keeps that choice.
(function () {
  const narrow = window.matchMedia("(max-width: 820px)");
  let chosen = false;
  const apply = () => {
    const box = document.querySelector(".facet-box");
    if (!box) return;
    box.open = narrow.matches ? chosen : true;
    box.addEventListener("toggle", () => { if (narrow.matches) chosen = box.open; });
  };
  document.addEventListener("DOMContentLoaded", apply);
  document.addEventListener("htmx:afterSwap", apply);
})();

// A filter that applies as soon as it is chosen (no inline handlers: the pages' CSP forbids them).
document.addEventListener("change", (event) => {
  if (event.target.matches("select[data-autosubmit]")) event.target.form.requestSubmit();
});
