// The login form (admin API: POST /v0/auth/login).
import { login } from "../api.js";
import { h, setChildren } from "../dom.js";

/** Renders the login form into root; `notice` explains why we are here (e.g. session expired). */
export function loginView(root, notice) {
  const user = h("input", { id: "username", name: "username", autocomplete: "username", required: true, autofocus: true });
  const pass = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const error = h("p.error", { id: "login-error", role: "alert", hidden: !notice, text: notice ?? "" });
  const submit = h("button.btn.primary.wide", { type: "submit", text: "Log in" });
  const form = h(
    "form.login",
    { "aria-labelledby": "login-title", "aria-describedby": "login-error" },
    h("h1", { id: "login-title", text: "Sign in to llmlb" }),
    h("p.muted", { text: "Operator dashboard: live fleet, routing and keys." }),
    h("label", { for: "username", text: "Username" }),
    user,
    h("label", { for: "password", text: "Password" }),
    pass,
    error,
    submit,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    submit.disabled = true;
    error.hidden = true;
    try {
      await login(user.value, pass.value);
      // app.js reacts to the session change and routes on.
    } catch (err) {
      error.textContent = err.status === 401 || err.status === 403 ? "Invalid username or password." : err.message;
      error.hidden = false;
      pass.value = "";
      pass.focus();
    } finally {
      submit.disabled = false;
    }
  });
  setChildren(root, h("div.login-wrap", {}, form));
  user.focus();
  return () => {};
}
