/* Sign in, keep the token on this device, go back where the user was headed. */
"use strict";

(function () {
  const G = window.Gridgov;
  const LANDING = { grid_head: "/report", emergency: "/supplies" };
  const form = document.getElementById("login-form");
  const error = document.getElementById("login-error");

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
      if (!answer.ok) throw new Error((data.detail && data.detail.message) || data.message);
      G.signIn(data.access_token, data.user);
      const next = new URLSearchParams(location.search).get("next");
      const safe = next && next.startsWith("/") && !next.startsWith("//") ? next : null;
      location.href = safe || LANDING[data.user.role] || "/map";
    } catch (e) {
      error.textContent = e instanceof TypeError ? G.T("web.error.offline") : e.message;
      error.hidden = false;
    }
  });
})();
