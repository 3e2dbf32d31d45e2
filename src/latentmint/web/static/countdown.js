// Auction countdowns on the work page: each [data-end] element counts down to its end (unix seconds),
// from the chain time the page was rendered at. A file, not inline script: the CSP allows none.
const opened = Date.now() / 1000;
function tick() {
  for (const el of document.querySelectorAll("[data-end]")) {
    const left = Math.round(Number(el.dataset.end) - Number(el.dataset.now) - (Date.now() / 1000 - opened));
    if (left <= 0) { el.textContent = "ended: it can be settled"; continue; }
    const h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
    el.textContent = `ends in ${h}h ${String(m).padStart(2, "0")}m ${String(s).padStart(2, "0")}s`;
  }
}
tick();
setInterval(tick, 1000);
