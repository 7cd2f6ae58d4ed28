// Admin portal enhancements; every page works without them.
(() => {
  // The issue form: report the administrator's time zone, so a start time means what they typed.
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  document.querySelectorAll("[data-time-zone]").forEach((input) => { input.value = zone; });
  document.querySelectorAll("[data-time-zone-name]").forEach((span) => { span.textContent = zone; });

  // The issued pass: copy it whole (without the spaces between groups), or print the page.
  const pass = document.querySelector("[data-pass]");
  const copy = document.querySelector("[data-copy]");
  const status = document.querySelector(".copied");
  if (pass && copy && navigator.clipboard) {
    copy.hidden = false;
    copy.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(pass.dataset.pass);
        status.textContent = "Copied.";
      } catch {
        status.textContent = "Your browser did not allow copying; select the pass instead.";
      }
    });
  }
  const print = document.querySelector("[data-print]");
  if (print) {
    print.hidden = false;
    print.addEventListener("click", () => window.print());
  }
})();
