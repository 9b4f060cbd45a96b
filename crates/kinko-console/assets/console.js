// kinko console: small improvements on pages that work without script.
"use strict";
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-copy-text], button[data-copy-secret]");
  if (!button) return;
  event.preventDefault();
  let text = button.dataset.copyText;
  if (button.dataset.copySecret !== undefined) {
    // The value is fetched by a POST and put on the clipboard without being shown.
    const body = new URLSearchParams({ id: button.dataset.copySecret, csrf: button.dataset.csrf });
    const response = await fetch("/console/secrets/value", { method: "POST", body, credentials: "same-origin" });
    const doc = await response.json();
    if (!response.ok) {
      button.textContent = doc.code || "Error";
      return;
    }
    text = doc.SecretString;
  }
  try {
    await navigator.clipboard.writeText(text);
    const label = button.textContent;
    button.textContent = button.dataset.copied || "Copied";
    setTimeout(() => { button.textContent = label; }, 1500);
  } catch (e) {
    button.textContent = "Clipboard unavailable";
  }
});
