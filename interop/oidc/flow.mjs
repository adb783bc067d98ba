// Independent OpenID Connect relying party for idseal's interop test.
//
// Drives a complete authorization-code flow with PKCE against a running idseal with the certified
// `openid-client` library (pinned in package.json), playing the browser part itself with fetch and a
// small cookie jar. Every protocol check (issuer, RFC 9207 `iss`, state, nonce, ID token signature
// against the JWKS, at_hash/azp/aud/exp, userinfo subject) is openid-client's own and left unmodified;
// `allowInsecureRequests` only lets it talk plain HTTP to a test server on loopback.
//
// Environment: ISSUER, CLIENT_ID, CLIENT_SECRET (client_secret_basic), REDIRECT_URI, EMAIL, PASSWORD,
// POST_LOGOUT_REDIRECT_URI; optional ID_TOKEN_ALG (the client's id_token_signed_response_alg,
// default RS256).
//
// Output: one JSON line on stdout, {"ok":bool,"steps":[{"name","ok","error"?}],"id_token":"..."};
// diagnostics go to stderr. Exit code 0 only if every step passed.

import * as client from "openid-client";

const REQUIRED_ENV = [
  "ISSUER",
  "CLIENT_ID",
  "CLIENT_SECRET",
  "REDIRECT_URI",
  "EMAIL",
  "PASSWORD",
  "POST_LOGOUT_REDIRECT_URI",
];
const SCOPE = "openid profile email offline_access";
const MAX_HOPS = 25;

const steps = [];
let firstIdToken = null;

/**
 * Runs and records a step. A failing step stops the run unless `soft`. `detail` maps the step's result
 * to what is printed about it (nothing by default: results hold tokens).
 */
async function step(name, fn, { soft = false, detail = undefined } = {}) {
  try {
    const result = await fn();
    steps.push(detail ? { name, ok: true, detail: detail(result) } : { name, ok: true });
    return result;
  } catch (err) {
    const error = describeError(err);
    steps.push({ name, ok: false, error });
    console.error(`step ${name} failed: ${error}`);
    if (!soft) {
      throw new StepFailed(name);
    }
    return undefined;
  }
}

class StepFailed extends Error {}

function describeError(err) {
  if (err instanceof client.ResponseBodyError) {
    return `${err.message} (status ${err.status}, error ${err.error}: ${err.error_description ?? ""})`;
  }
  if (err instanceof client.AuthorizationResponseError) {
    return `${err.message} (error ${err.error}: ${err.error_description ?? ""})`;
  }
  if (err instanceof Error) {
    return err.code ? `${err.message} [${err.code}]` : err.message;
  }
  return String(err);
}

function assert(cond, message) {
  if (!cond) {
    throw new Error(message);
  }
}

// ---------------------------------------------------------------------------------------------------
// The browser: a cookie jar (one origin: the issuer) and a form parser.

class CookieJar {
  constructor(origin) {
    this.origin = origin;
    this.cookies = new Map();
  }

  /** Stores the Set-Cookie headers of a response from `url` (only from the issuer's origin). */
  store(url, response) {
    if (new URL(url).origin !== this.origin) {
      return;
    }
    for (const header of response.headers.getSetCookie()) {
      const [pair, ...attrs] = header.split(";");
      const eq = pair.indexOf("=");
      if (eq <= 0) {
        continue;
      }
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => {
        const [k, v = ""] = a.split("=").map((s) => s.trim());
        if (k.toLowerCase() === "max-age") {
          return Number(v) <= 0;
        }
        if (k.toLowerCase() === "expires") {
          const t = Date.parse(v);
          return !Number.isNaN(t) && t <= Date.now();
        }
        return false;
      });
      if (expired || value === "") {
        this.cookies.delete(name);
      } else {
        this.cookies.set(name, value);
      }
    }
  }

  header(url) {
    if (new URL(url).origin !== this.origin || this.cookies.size === 0) {
      return undefined;
    }
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }

  clone() {
    const copy = new CookieJar(this.origin);
    copy.cookies = new Map(this.cookies);
    return copy;
  }
}

function decodeEntities(s) {
  return s
    .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#([0-9]+);/g, (_, d) => String.fromCodePoint(parseInt(d, 10)))
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

function parseAttributes(tagBody) {
  const attrs = {};
  const re = /([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  let m;
  while ((m = re.exec(tagBody)) !== null) {
    const name = m[1].toLowerCase();
    if (!(name in attrs)) {
      attrs[name] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? "");
    }
  }
  return attrs;
}

/** Every <form> of the page: method, action (resolved against the page URL), inputs and buttons. */
function parseForms(html, pageUrl) {
  const forms = [];
  const formRe = /<form\b([^>]*)>([\s\S]*?)<\/form\s*>/gi;
  let m;
  while ((m = formRe.exec(html)) !== null) {
    const attrs = parseAttributes(m[1]);
    const inner = m[2];
    const inputs = [...inner.matchAll(/<input\b([^>]*)>/gi)].map((i) => parseAttributes(i[1]));
    const buttons = [...inner.matchAll(/<button\b([^>]*)>/gi)].map((b) => parseAttributes(b[1]));
    forms.push({
      method: (attrs.method ?? "get").toLowerCase(),
      action: new URL(attrs.action ? attrs.action : pageUrl, pageUrl).href,
      inputs,
      buttons,
    });
  }
  return forms;
}

/** The hidden fields of a form, as a browser would submit them. */
function hiddenFields(form) {
  const body = new URLSearchParams();
  for (const input of form.inputs) {
    if ((input.type ?? "text").toLowerCase() === "hidden" && input.name && !("disabled" in input)) {
      body.append(input.name, input.value ?? "");
    }
  }
  return body;
}

const isRedirect = (status) => [301, 302, 303, 307, 308].includes(status);

async function snippet(response) {
  const text = await response.text().catch(() => "");
  return text.replace(/\s+/g, " ").slice(0, 300);
}

/**
 * Plays the browser from `startUrl` until the user agent is sent to REDIRECT_URI (never fetched).
 * Logs in and consents (decision=allow) when asked. With `stopAtLogin`, returns as soon as a login
 * page is shown instead of submitting it.
 */
async function browse(jar, startUrl, { stopAtLogin = false } = {}) {
  const { ISSUER, REDIRECT_URI, EMAIL, PASSWORD } = process.env;
  const seen = { login: false, consent: false, hops: [] };
  let req = { method: "GET", url: startUrl, body: undefined };
  for (let hop = 0; hop < MAX_HOPS; hop++) {
    if (req.method === "GET" && req.url.startsWith(REDIRECT_URI)) {
      return { ...seen, callback: req.url };
    }
    const headers = { accept: "text/html,application/xhtml+xml" };
    const cookie = jar.header(req.url);
    if (cookie) {
      headers.cookie = cookie;
    }
    if (req.method === "POST") {
      headers["content-type"] = "application/x-www-form-urlencoded";
      headers.origin = new URL(ISSUER).origin;
      headers.referer = req.referer;
    }
    const response = await fetch(req.url, { method: req.method, headers, body: req.body, redirect: "manual" });
    jar.store(req.url, response);
    seen.hops.push(`${req.method} ${new URL(req.url).pathname} -> ${response.status}`);
    if (isRedirect(response.status)) {
      const location = response.headers.get("location");
      assert(location, `${req.method} ${req.url} answered ${response.status} without Location`);
      await response.body?.cancel();
      req = { method: "GET", url: new URL(location, req.url).href };
      continue;
    }
    if (response.status !== 200) {
      throw new Error(`${req.method} ${req.url} answered ${response.status}: ${await snippet(response)}`);
    }
    const pageUrl = req.url;
    const html = await response.text();
    const forms = parseForms(html, pageUrl).filter((f) => f.method === "post");
    const login = forms.find((f) => f.inputs.some((i) => i.name === "password")) ?? null;
    if (login) {
      if (stopAtLogin) {
        return { ...seen, loginPage: pageUrl };
      }
      assert(!seen.login, `the login page came back after submitting it (wrong EMAIL/PASSWORD?) at ${pageUrl}`);
      seen.login = true;
      const body = hiddenFields(login);
      assert(body.has("csrf"), `the login form has no hidden csrf field (${pageUrl})`);
      body.set("email", EMAIL);
      body.set("password", PASSWORD);
      req = { method: "POST", url: login.action, body, referer: pageUrl };
      continue;
    }
    const consent =
      forms.find(
        (f) => f.inputs.some((i) => i.name === "decision") || f.buttons.some((b) => b.name === "decision"),
      ) ?? null;
    if (consent) {
      assert(!seen.consent, `the consent page came back after allowing (${pageUrl})`);
      seen.consent = true;
      const allow =
        consent.buttons.some((b) => b.name === "decision" && b.value === "allow") ||
        consent.inputs.some((i) => i.name === "decision" && i.value === "allow");
      assert(allow, `the consent form offers no decision=allow (${pageUrl})`);
      const body = hiddenFields(consent);
      assert(body.has("csrf"), `the consent form has no hidden csrf field (${pageUrl})`);
      body.delete("decision");
      body.set("decision", "allow");
      req = { method: "POST", url: consent.action, body, referer: pageUrl };
      continue;
    }
    throw new Error(`unexpected page at ${pageUrl} (no login or consent form): ${html.slice(0, 300)}`);
  }
  throw new Error(`more than ${MAX_HOPS} hops: ${seen.hops.join(", ")}`);
}

// ---------------------------------------------------------------------------------------------------
// The relying party.

/** A fresh authorization request: PKCE S256, random state and nonce. */
async function newAuthorization(config) {
  const pkceCodeVerifier = client.randomPKCECodeVerifier();
  const codeChallenge = await client.calculatePKCECodeChallenge(pkceCodeVerifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: process.env.REDIRECT_URI,
    scope: SCOPE,
    code_challenge: codeChallenge,
    code_challenge_method: "S256",
    state,
    nonce,
  });
  return { url, pkceCodeVerifier, state, nonce };
}

async function expectInvalidGrant(config, refreshToken, what) {
  try {
    await client.refreshTokenGrant(config, refreshToken);
  } catch (err) {
    if (err instanceof client.ResponseBodyError && err.error === "invalid_grant") {
      return;
    }
    throw new Error(`${what}: expected invalid_grant, got ${describeError(err)}`);
  }
  throw new Error(`${what}: the refresh succeeded`);
}

async function main() {
  const missing = REQUIRED_ENV.filter((k) => !process.env[k]);
  if (missing.length > 0) {
    throw new Error(`missing environment: ${missing.join(", ")}`);
  }
  const { ISSUER, CLIENT_ID, CLIENT_SECRET, POST_LOGOUT_REDIRECT_URI } = process.env;
  const idTokenAlg = process.env.ID_TOKEN_ALG || "RS256";
  const issuerUrl = new URL(ISSUER);
  const jar = new CookieJar(issuerUrl.origin);

  // a. Discovery.
  const config = await step("discovery", async () => {
    const cfg = await client.discovery(
      issuerUrl,
      CLIENT_ID,
      { client_secret: CLIENT_SECRET, id_token_signed_response_alg: idTokenAlg },
      client.ClientSecretBasic(CLIENT_SECRET),
      { execute: [client.allowInsecureRequests] },
    );
    const md = cfg.serverMetadata();
    assert(
      Array.isArray(md.code_challenge_methods_supported) && md.code_challenge_methods_supported.includes("S256"),
      `code_challenge_methods_supported lacks S256: ${JSON.stringify(md.code_challenge_methods_supported)}`,
    );
    for (const endpoint of ["revocation_endpoint", "introspection_endpoint", "end_session_endpoint"]) {
      assert(typeof md[endpoint] === "string", `metadata has no ${endpoint}`);
    }
    return cfg;
  });

  // b-d. First flow: login, consent, code exchange.
  const first = await step("authorization_request", () => newAuthorization(config));
  const browsed = await step("browser_login_and_consent", async () => {
    const result = await browse(jar, first.url.href);
    assert(result.login, "no login page was shown on the first flow");
    return result;
  }, { detail: (r) => ({ hops: r.hops, consent: r.consent }) });

  const tokens = await step("authorization_code_grant", async () => {
    const t = await client.authorizationCodeGrant(config, new URL(browsed.callback), {
      pkceCodeVerifier: first.pkceCodeVerifier,
      expectedState: first.state,
      expectedNonce: first.nonce,
      idTokenExpected: true,
    });
    assert(typeof t.id_token === "string", "no id_token");
    assert(typeof t.access_token === "string", "no access_token");
    assert(typeof t.refresh_token === "string", "no refresh_token despite offline_access");
    assert(t.token_type?.toLowerCase() === "bearer", `token_type is ${t.token_type}`);
    return t;
  });
  firstIdToken = tokens.id_token;

  // e. ID token claims and userinfo.
  const claims = await step("id_token_claims", async () => {
    const c = tokens.claims();
    assert(c && typeof c.sub === "string" && c.sub.length > 0, "no sub");
    assert(c.email === process.env.EMAIL.trim().toLowerCase(), `email claim is ${c.email}`);
    assert(c.pq_sig && typeof c.pq_sig.sig === "string", "no pq_sig claim");
    return { sub: c.sub, email: c.email };
  }, { detail: (r) => r });
  await step("userinfo", async () => {
    const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    assert(info.sub === claims.sub, `userinfo sub ${info.sub} != ${claims.sub}`);
    return { sub: info.sub, email: info.email };
  }, { detail: (r) => r });

  // f. Refresh rotation and reuse detection.
  const refreshed = await step("refresh_rotation", async () => {
    const r = await client.refreshTokenGrant(config, tokens.refresh_token);
    assert(typeof r.access_token === "string" && r.access_token !== tokens.access_token, "access token not renewed");
    assert(typeof r.refresh_token === "string", "no new refresh token");
    assert(r.refresh_token !== tokens.refresh_token, "refresh token was not rotated");
    return r;
  });
  await step("refresh_reuse_rejected", () => expectInvalidGrant(config, tokens.refresh_token, "old refresh token"));
  await step("refresh_family_revoked", () =>
    expectInvalidGrant(config, refreshed.refresh_token, "new refresh token after reuse"),
  );

  // g. Second flow: session and remembered consent skip both pages; then revocation.
  const second = await newAuthorization(config);
  const browsed2 = await step("second_flow_skips_login_and_consent", async () => {
    const result = await browse(jar, second.url.href);
    assert(!result.login, "the login page was shown again although the session cookie is set");
    assert(!result.consent, "the consent page was shown again although consent was given");
    return result;
  }, { detail: (r) => ({ hops: r.hops }) });
  const tokens2 = await step("second_code_grant", async () => {
    const t = await client.authorizationCodeGrant(config, new URL(browsed2.callback), {
      pkceCodeVerifier: second.pkceCodeVerifier,
      expectedState: second.state,
      expectedNonce: second.nonce,
      idTokenExpected: true,
    });
    assert(typeof t.refresh_token === "string", "no refresh_token");
    assert(t.claims()?.sub === claims.sub, "the second flow returned another sub");
    return t;
  });
  await step("revocation", () => client.tokenRevocation(config, tokens2.refresh_token));
  await step("refresh_after_revocation_rejected", () =>
    expectInvalidGrant(config, tokens2.refresh_token, "revoked refresh token"),
  );
  await step(
    "introspection_after_revocation",
    async () => {
      const intro = await client.tokenIntrospection(config, tokens2.access_token);
      assert(intro.active === false, `access token still active after revoking its grant: ${JSON.stringify(intro)}`);
      return { active: intro.active };
    },
    { soft: true, detail: (r) => r },
  );

  // h. RP-initiated logout, then the session must be gone.
  await step("end_session", async () => {
    const state = client.randomState();
    const url = client.buildEndSessionUrl(config, {
      id_token_hint: tokens2.id_token,
      post_logout_redirect_uri: POST_LOGOUT_REDIRECT_URI,
      state,
    });
    const headers = { accept: "text/html" };
    const cookie = jar.header(url.href);
    if (cookie) {
      headers.cookie = cookie;
    }
    const response = await fetch(url, { headers, redirect: "manual" });
    jar.store(url.href, response);
    assert(
      response.status === 302 || response.status === 303,
      `logout answered ${response.status}: ${await snippet(response)}`,
    );
    const location = new URL(response.headers.get("location") ?? "", url).href;
    assert(location.startsWith(POST_LOGOUT_REDIRECT_URI), `logout redirected to ${location}`);
    assert(new URL(location).searchParams.get("state") === state, `logout redirect lost the state: ${location}`);
  });
  await step("session_ended", async () => {
    const again = await newAuthorization(config);
    const result = await browse(jar, again.url.href, { stopAtLogin: true });
    assert(result.loginPage, `no login page after logout: reached ${result.callback}`);
  });
}

let exitCode = 0;
try {
  await main();
} catch (err) {
  if (!(err instanceof StepFailed)) {
    steps.push({ name: "setup", ok: false, error: describeError(err) });
    console.error(err);
  }
  exitCode = 1;
}
const ok = exitCode === 0 && steps.length > 0 && steps.every((s) => s.ok);
process.stdout.write(`${JSON.stringify({ ok, steps, id_token: firstIdToken })}\n`);
process.exitCode = ok ? 0 : 1;
