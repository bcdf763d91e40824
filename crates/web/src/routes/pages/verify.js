// The check-a-signed-document page: the chosen file's name beside the picker (in the page's
// language until one is chosen), and progress while the document is checked. Without
// JavaScript the form works the same; only the name and the progress line are not shown.
(function () {
  var input = document.getElementById("document");
  var chosen = document.getElementById("document-chosen");
  if (!input || !chosen) return;
  var none = chosen.textContent;
  input.addEventListener("change", function () {
    chosen.textContent = input.files && input.files.length ? input.files[0].name : none;
  });
  var progress = document.getElementById("verify-progress");
  var submit = document.getElementById("verify-submit");
  input.form.addEventListener("submit", function () {
    if (progress) progress.hidden = false;
    // One check at a time; the answer replaces the page.
    if (submit) submit.setAttribute("aria-disabled", "true");
  });
})();
