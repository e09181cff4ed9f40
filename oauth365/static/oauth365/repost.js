// Re-post Microsoft's form_post answer from this origin so the session cookie goes along.
(function () {
  "use strict";
  var form = document.querySelector("form[data-oauth365-repost]");
  if (form) form.submit();
})();
