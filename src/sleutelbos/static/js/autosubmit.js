/* Submits a form marked data-autosubmit as soon as the page loads: the SAML HTTP-POST binding's way back to the
   service. Without JavaScript the form's own button does the same. */
(function () {
  "use strict";
  var form = document.querySelector("form[data-autosubmit]");
  if (form) {
    form.submit();
  }
})();
