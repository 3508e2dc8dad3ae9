// Entry: theme, session, the live stream and a tiny hash router (#/nodes, #/nodes/:id, #/fleet, #/keys).
import { logout, onSessionChange, session } from "./api.js";
import { live, start, stop, subscribe } from "./live.js";
import { fleetView } from "./views/fleet.js";
import { keysView } from "./views/keys.js";
import { loginView } from "./views/login.js";
import { nodeDetailView } from "./views/node-detail.js";
import { nodesView } from "./views/nodes.js";

const THEME_KEY = "llmlb.theme";
const main = document.getElementById("main");
const nav = document.getElementById("nav");
const conn = document.getElementById("conn");
const who = document.getElementById("who");
const logoutBtn = document.getElementById("logout");
const themeBtn = document.getElementById("theme-toggle");

// Theme: follow the system until the operator picks one; the choice is remembered.
function effectiveTheme() {
  return document.documentElement.dataset.theme ?? (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
}
function showThemeButton() {
  const next = effectiveTheme() === "dark" ? "light" : "dark";
  themeBtn.textContent = next === "dark" ? "Dark" : "Light";
  themeBtn.setAttribute("aria-label", `Switch to the ${next} theme`);
}
const saved = localStorage.getItem(THEME_KEY);
if (saved === "dark" || saved === "light") document.documentElement.dataset.theme = saved;
themeBtn.addEventListener("click", () => {
  const next = effectiveTheme() === "dark" ? "light" : "dark";
  document.documentElement.dataset.theme = next;
  localStorage.setItem(THEME_KEY, next);
  showThemeButton();
});
matchMedia("(prefers-color-scheme: dark)").addEventListener("change", showThemeButton);
showThemeButton();

const STATUS_TEXT = { idle: "", connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…" };
subscribe((kind) => {
  if (kind !== "status") return;
  conn.textContent = STATUS_TEXT[live.status] ?? live.status;
  conn.dataset.status = live.status;
});

let cleanup = () => {};
let notice;

function route() {
  cleanup();
  cleanup = () => {};
  const s = session();
  const hash = location.hash.replace(/^#/, "") || "/nodes";
  const signedIn = !!s;
  nav.hidden = !signedIn;
  logoutBtn.hidden = !signedIn;
  who.hidden = !signedIn;
  conn.hidden = !signedIn;
  if (!signedIn) {
    stop();
    document.title = "Log in · llmlb";
    cleanup = loginView(main, notice);
    notice = undefined;
    return;
  }
  who.textContent = s.username;
  if (live.status === "idle") start();
  const parts = hash.split("/").filter(Boolean);
  const page = parts[0] ?? "nodes";
  for (const a of nav.querySelectorAll("a")) {
    if (a.dataset.nav === page) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (page === "nodes" && parts[1]) {
    const id = decodeURIComponent(parts[1]);
    document.title = `${id} · llmlb`;
    cleanup = nodeDetailView(main, id);
  } else if (page === "fleet") {
    document.title = "Fleet · llmlb";
    cleanup = fleetView(main);
  } else if (page === "keys") {
    document.title = "Keys & tokens · llmlb";
    cleanup = keysView(main);
  } else {
    document.title = "Nodes · llmlb";
    cleanup = nodesView(main);
  }
}

window.addEventListener("hashchange", () => {
  route();
  // Move focus to the new content, as a page load would, for keyboard and screen-reader users.
  main.focus({ preventScroll: true });
});
let loggingOut = false;
logoutBtn.addEventListener("click", () => {
  loggingOut = true;
  logout();
});
onSessionChange((s) => {
  if (!s) {
    // A 401 from the API also lands here: tell the operator why the login form came back.
    if (live.status !== "idle" && !loggingOut) notice = "Your session has ended; please log in again.";
    stop();
  }
  loggingOut = false;
  route();
});

route();
