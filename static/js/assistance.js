// Live assistance page: refresh the state fragment without reloading, count down the
// grace/ready window, and reveal the credentials once (kept outside the refreshed part).
(function () {
  const container = document.getElementById("live-container");
  if (!container) return;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const finalStates = ["expired", "denied", "failed", "interrupted", "cancelled", "locked"];

  function bind() {
    const button = document.getElementById("reveal");
    if (button) {
      button.addEventListener("click", async () => {
        button.disabled = true;
        const response = await fetch(button.dataset.url, {
          method: "POST", headers: {"X-CSRFToken": csrf}, credentials: "same-origin"});
        const body = await response.json();
        if (!response.ok) { alert(body.error.message); return; }
        document.getElementById("secret-sid").textContent = body.session_id;
        document.getElementById("secret-password").textContent = body.password;
        document.getElementById("secret-box").hidden = false;
        refresh();
      });
    }
  }

  function tick() {
    const live = document.getElementById("live");
    const out = live && live.querySelector("[data-countdown]");
    if (!out || !live.dataset.deadline) return;
    const left = Math.max(0, Math.round((Date.parse(live.dataset.deadline) - Date.now()) / 1000));
    out.textContent = Math.floor(left / 60) + " " + (container.dataset.min || "min") + " " +
      String(left % 60).padStart(2, "0") + " " + (container.dataset.s || "s");
  }

  async function refresh() {
    const response = await fetch(container.dataset.liveUrl, {credentials: "same-origin"});
    if (response.ok) {
      container.innerHTML = await response.text();
      bind();
      tick();
    }
  }

  bind();
  tick();
  setInterval(tick, 1000);
  const timer = setInterval(() => {
    const live = document.getElementById("live");
    if (live && finalStates.includes(live.dataset.state)) clearInterval(timer);
    else refresh();
  }, 1500);
})();
