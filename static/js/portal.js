// Every page: confirmations before destructive actions (forms with data-confirm) and copy
// buttons (data-copy = selector of the element whose text is copied). Delegated, so parts
// of a page refreshed in place keep working.
(function () {
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  }, true);

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    document.execCommand("copy");
    area.remove();
    return Promise.resolve();
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const source = document.querySelector(button.dataset.copy);
    if (!source) return;
    copyText(source.textContent.trim()).then(() => {
      const label = button.textContent;
      button.textContent = button.dataset.done || label;
      button.setAttribute("aria-live", "polite");
      setTimeout(() => { button.textContent = label; }, 2000);
    });
  });
})();

// The approvals badge: how many requests wait for this approver, kept current.
(function () {
  const source = document.querySelector("[data-count-url]");
  if (!source) return;
  async function refresh() {
    try {
      const response = await fetch(source.dataset.countUrl, {credentials: "same-origin"});
      if (!response.ok) return;
      const count = (await response.json()).count;
      document.querySelectorAll("[data-approvals-count]").forEach((badge) => {
        badge.textContent = count;
        badge.hidden = count === 0;
      });
    } catch (error) { /* offline for a moment: the next tick tries again */ }
  }
  setInterval(refresh, 10000);
})();
