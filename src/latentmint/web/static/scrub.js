// The training page's sample scrubber: served as a file so the Content-Security-Policy allows no inline script.
const data = JSON.parse(document.getElementById("scrub-data").textContent);
const scrub = document.getElementById("scrub");
scrub.addEventListener("input", () => {
  document.getElementById("scrub-image").src = data.base + data.files[scrub.value];
  document.getElementById("scrub-label").textContent = data.files[scrub.value];
});
