/* Sign in, keep the token on this device, go back where the user was headed. */
"use strict";

(function () {
  const G = window.Gridgov;
  const LANDING = { grid_head: "/report", emergency: "/supplies" };
  const form = document.getElementById("login-form");
  const error = document.getElementById("login-error");

  /** ``next`` as a path on this site, or null: "/\\evil" or "/\t/evil" must not leave it. */
  function sameSite(next) {
    if (!next) return null;
    try {
      const url = new URL(next, location.origin);
      return url.origin === location.origin ? url.pathname + url.search + url.hash : null;
    } catch (e) {
      return null;
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const body = new URLSearchParams(new FormData(form));
    try {
      const answer = await fetch("/api/v1/auth/token", {
        method: "POST",
        body: body,
        headers: { "Accept-Language": G.config.lang },
      });
      const data = await answer.json();
      if (!answer.ok) throw new Error(data.detail || G.T("web.error.http", { status: answer.status }));
      G.signIn(data.access_token, data.user);
      location.href = sameSite(new URLSearchParams(location.search).get("next")) || LANDING[data.user.role] || "/map";
    } catch (e) {
      error.textContent = e instanceof TypeError ? G.T("web.error.offline") : e.message;
      error.hidden = false;
    }
  });
})();
