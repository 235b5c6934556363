// Behaviour that pages need beyond htmx, as a file: the Content-Security-Policy allows no
// inline scripts or event-handler attributes.
document.addEventListener("click", function (event) {
  var target = event.target instanceof Element ? event.target.closest("[data-print]") : null;
  if (target) {
    window.print();
  }
});
