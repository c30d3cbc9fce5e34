// Live countdowns to deadlines, and the auto-refresh of list pages. Texts come from the page
// (the server's catalogue): this file holds no words.
"use strict";

function owlDuration(seconds, dayUnit) {
  const sign = seconds < 0 ? "-" : "";
  let minutes = Math.floor(Math.abs(seconds) / 60);
  const days = Math.floor(minutes / 1440);
  minutes -= days * 1440;
  const hours = Math.floor(minutes / 60);
  minutes -= hours * 60;
  if (days) return `${sign}${days} ${dayUnit} ${hours} h`;
  if (hours) return `${sign}${hours} h ${String(minutes).padStart(2, "0")} min`;
  return `${sign}${minutes} min`;
}

function owlTick() {
  const dayUnit = document.body.dataset.dayUnit || "d";
  for (const element of document.querySelectorAll("[data-deadline]")) {
    const left = (Date.parse(element.dataset.deadline) - Date.now()) / 1000;
    element.textContent = owlDuration(left, dayUnit);
    element.classList.toggle("breached", left < 0);
    element.classList.toggle("soon", left >= 0 && left < 3600);
  }
}

function owlAutoRefresh() {
  const every = Number(document.body.dataset.refreshSeconds || 0);
  if (!every) return;
  setInterval(() => {
    const busy = document.activeElement && document.activeElement.matches("input, select, textarea");
    if (!busy && document.visibilityState === "visible") window.location.reload();
  }, every * 1000);
}

document.addEventListener("DOMContentLoaded", () => {
  owlTick();
  setInterval(owlTick, 15000);
  owlAutoRefresh();
});
