// Approvals page: keep the list current (new requests appear, decided ones go) without
// reloading, except while the approver is typing a note or a reason.
(function () {
  const box = document.getElementById("approvals");
  if (!box) return;
  function typing() {
    const active = document.activeElement;
    return active && box.contains(active) && active.tagName === "INPUT" && active.value !== "";
  }
  async function refresh() {
    if (typing()) return;
    const response = await fetch(box.dataset.listUrl, {credentials: "same-origin"});
    if (response.ok && !typing()) box.innerHTML = await response.text();
  }
  setInterval(refresh, 4000);
})();
