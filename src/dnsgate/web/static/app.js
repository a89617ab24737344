// dnsgate UI: the only script besides htmx (no inline script: the CSP forbids it).
// Copy buttons: <button data-copy="#id"> copies the text of #id.
"use strict";
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.querySelector(button.getAttribute("data-copy"));
  const status = document.querySelector("[data-copy-status]");
  if (!source) return;
  try {
    await navigator.clipboard.writeText(source.textContent.trim());
    if (status) status.textContent = "Copied to the clipboard.";
  } catch (err) {
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    if (status) status.textContent = "Selected: press Ctrl+C (or ⌘C) to copy.";
  }
});
