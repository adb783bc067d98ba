// "Sign in with your phone" (docs/passwordless.md, OIDC) driven by an independent relying party.
//
// openid-client (pinned in package.json) does discovery, PKCE, state, nonce, the authorization URL
// (identity scopes and eIDAS `acr_values`), the code grant with its own ID token / `iss` / nonce /
// state checks, and userinfo. This script plays the browser with fetch and a cookie jar: it opens the
// sign-in page, posts the phone form with the token id, reads the code from the waiting page, runs the
// simulated phone (`idseal device approve`) as a child process, and fetches the waiting page again
// until it redirects to the client with the code.
//
// Environment: ISSUER, CLIENT_ID, CLIENT_SECRET (client_secret_basic), REDIRECT_URI, TOKEN_ID (the
// enrolled phone's token id), DEVICE_STATE (its `idseal device` state file), IDSEAL_BIN (the idseal
// binary), EXPECTED_ACR (the eIDAS URI of the seal's level).
//
// Output: one JSON line on stdout, {"ok":bool,"steps":[{"name","ok","error"?,"detail"?}]};
// diagnostics go to stderr. Exit code 0 only if every step passed.

import { execFile } from "node:child_process";
import { promisify } from "node:util";

import * as client from "openid-client";

const REQUIRED_ENV = [
  "ISSUER",
  "CLIENT_ID",
  "CLIENT_SECRET",
  "REDIRECT_URI",
  "TOKEN_ID",
  "DEVICE_STATE",
  "IDSEAL_BIN",
  "EXPECTED_ACR",
];
const SCOPE = "openid identity:name identity:age_over_18";
const GRANTED = "identity:age_over_18";
const LOA = "http://eidas.europa.eu/LoA/";
const MAX_HOPS = 10;
const WAIT_POLLS = 60;

const run = promisify(execFile);
const steps = [];

class StepFailed extends Error {}

async function step(name, fn, { detail = undefined } = {}) {
  try {
    const result = await fn();
    steps.push(detail ? { name, ok: true, detail: detail(result) } : { name, ok: true });
    return result;
  } catch (err) {
    const error = describe(err);
    steps.push({ name, ok: false, error });
    console.error(`step ${name} failed: ${error}`);
    throw new StepFailed(name);
  }
}

function describe(err) {
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

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------------
// The browser: cookies of the issuer's origin, forms, redirects.

class Browser {
  constructor(origin) {
    this.origin = origin;
    this.cookies = new Map();
  }

  keep(url, response) {
    if (new URL(url).origin !== this.origin) {
      return;
    }
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(";");
      const at = pair.indexOf("=");
      if (at <= 0) {
        continue;
      }
      const name = pair.slice(0, at).trim();
      const value = pair.slice(at + 1).trim();
      const gone = attributes.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a)) || value === "";
      if (gone) {
        this.cookies.delete(name);
      } else {
        this.cookies.set(name, value);
      }
    }
  }

  /** One request without following redirects; the response's cookies are kept. */
  async fetch(url, { method = "GET", form = undefined, referer = undefined } = {}) {
    const headers = { accept: "text/html" };
    if (new URL(url).origin === this.origin && this.cookies.size > 0) {
      headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    }
    if (method === "POST") {
      headers["content-type"] = "application/x-www-form-urlencoded";
      headers.origin = this.origin;
      if (referer) {
        headers.referer = referer;
      }
    }
    const response = await fetch(url, { method, headers, body: form, redirect: "manual" });
    this.keep(url, response);
    return response;
  }

  /** GETs `url` and follows redirects within the issuer; returns the final page or the redirect out. */
  async open(url) {
    let current = url;
    for (let hop = 0; hop < MAX_HOPS; hop++) {
      if (new URL(current).origin !== this.origin) {
        return { redirect: current };
      }
      const response = await this.fetch(current);
      if ([301, 302, 303, 307, 308].includes(response.status)) {
        await response.body?.cancel();
        current = new URL(response.headers.get("location") ?? "", current).href;
        continue;
      }
      return { url: current, status: response.status, html: await response.text() };
    }
    throw new Error(`more than ${MAX_HOPS} redirects from ${url}`);
  }
}

function unescapeHtml(s) {
  return s
    .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#([0-9]+);/g, (_, d) => String.fromCodePoint(parseInt(d, 10)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

function attributes(tag) {
  const out = {};
  for (const m of tag.matchAll(/([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*=\s*"([^"]*)"/g)) {
    out[m[1].toLowerCase()] = unescapeHtml(m[2]);
  }
  return out;
}

/** The form posting to `path`: its absolute action and its hidden fields. */
function formTo(html, pageUrl, path) {
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form\s*>/gi)) {
    const attrs = attributes(m[1]);
    const action = new URL(attrs.action ?? pageUrl, pageUrl);
    if ((attrs.method ?? "get").toLowerCase() !== "post" || action.pathname !== path) {
      continue;
    }
    const fields = new URLSearchParams();
    for (const input of m[2].matchAll(/<input\b([^>]*)>/gi)) {
      const a = attributes(input[1]);
      if ((a.type ?? "text").toLowerCase() === "hidden" && a.name) {
        fields.append(a.name, a.value ?? "");
      }
    }
    return { action: action.href, fields };
  }
  throw new Error(`no form posting to ${path} on ${pageUrl}: ${html.replace(/\s+/g, " ").slice(0, 300)}`);
}

function shownCode(html) {
  const m = html.match(/<strong id="code">\s*([0-9]{6})\s*<\/strong>/);
  assert(m, `the waiting page shows no code: ${html.replace(/\s+/g, " ").slice(0, 300)}`);
  return m[1];
}

// ---------------------------------------------------------------------------------------------------
// The relying party.

async function authorization(config, acr) {
  const pkceCodeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: process.env.REDIRECT_URI,
    scope: SCOPE,
    acr_values: acr,
    code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
    code_challenge_method: "S256",
    state,
    nonce,
  });
  return { url, pkceCodeVerifier, state, nonce };
}

/** From the authorization URL to the sign-in page, then the phone form posted with the token id. */
async function askThePhone(browser, url) {
  const page = await browser.open(url.href);
  assert(page.status === 200, `the authorization request did not reach a sign-in page: ${JSON.stringify(page)}`);
  assert(/sign in with your phone/i.test(page.html), `the sign-in page offers no phone login (${page.url})`);
  const form = formTo(page.html, page.url, "/login/phone");
  assert(form.fields.has("csrf"), "the phone form has no csrf field");
  form.fields.set("token_id", process.env.TOKEN_ID);
  const response = await browser.fetch(form.action, { method: "POST", form: form.fields, referer: page.url });
  await response.body?.cancel();
  assert([302, 303].includes(response.status), `POST /login/phone answered ${response.status}`);
  return new URL(response.headers.get("location") ?? "", form.action).href;
}

async function main() {
  const missing = REQUIRED_ENV.filter((k) => !process.env[k]);
  if (missing.length > 0) {
    throw new Error(`missing environment: ${missing.join(", ")}`);
  }
  const { ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, DEVICE_STATE, IDSEAL_BIN, EXPECTED_ACR } = process.env;
  const issuer = new URL(ISSUER);

  const config = await step("discovery", () =>
    client.discovery(issuer, CLIENT_ID, { client_secret: CLIENT_SECRET }, client.ClientSecretBasic(CLIENT_SECRET), {
      execute: [client.allowInsecureRequests],
    }),
  );

  // 1. The seal's level satisfies acr_values: the phone approves, only the age is granted.
  const first = await step("authorization_request", () => authorization(config, `${LOA}substantial`));
  const browser = new Browser(issuer.origin);
  const waitUrl = await step("phone_form", () => askThePhone(browser, first.url));
  const code = await step("code_on_waiting_page", async () => {
    const page = await browser.open(waitUrl);
    assert(page.status === 200, `the waiting page answered ${page.status}`);
    return shownCode(page.html);
  });
  await step(
    "phone_approves",
    async () => {
      const args = ["device", "approve", "--state", DEVICE_STATE, "--code", code, "--scopes", GRANTED, "--json"];
      const { stdout } = await run(IDSEAL_BIN, args, { timeout: 60_000 });
      const answer = JSON.parse(stdout.trim().split("\n").pop());
      assert(answer.status === "approved", `the phone's answer: ${stdout}`);
      assert(answer.jwt === null || answer.jwt === undefined, "an OIDC login must finish in the browser");
      return answer;
    },
    { detail: (a) => ({ status: a.status, grantedScopes: a.grantedScopes }) },
  );
  const callback = await step("waiting_page_redirects", async () => {
    for (let i = 0; i < WAIT_POLLS; i++) {
      const page = await browser.open(waitUrl);
      if (page.redirect) {
        assert(page.redirect.startsWith(REDIRECT_URI), `redirected to ${page.redirect}`);
        return page.redirect;
      }
      assert(page.status === 200, `the waiting page answered ${page.status}: ${page.html.slice(0, 200)}`);
      await sleep(500);
    }
    throw new Error("the waiting page never redirected");
  });
  const tokens = await step("authorization_code_grant", () =>
    client.authorizationCodeGrant(config, new URL(callback), {
      pkceCodeVerifier: first.pkceCodeVerifier,
      expectedState: first.state,
      expectedNonce: first.nonce,
      idTokenExpected: true,
    }),
  );
  const claims = await step(
    "id_token_claims",
    async () => {
      const c = tokens.claims();
      assert(c.acr === EXPECTED_ACR, `acr is ${c.acr}, expected ${EXPECTED_ACR}`);
      assert(Array.isArray(c.amr) && c.amr.includes("hwk"), `amr is ${JSON.stringify(c.amr)}`);
      assert(c.age_over_18 === true, `age_over_18 is ${c.age_over_18}`);
      for (const withheld of ["given_name", "family_name", "birthdate", "email"]) {
        assert(!(withheld in c), `${withheld} was released without being granted`);
      }
      const scopes = (tokens.scope ?? "").split(" ");
      assert(scopes.includes(GRANTED) && !scopes.includes("identity:name"), `token scope is ${tokens.scope}`);
      return c;
    },
    { detail: (c) => ({ acr: c.acr, amr: c.amr, age_over_18: c.age_over_18 }) },
  );
  await step("userinfo", async () => {
    const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    assert(info.sub === claims.sub, `userinfo sub ${info.sub} != ${claims.sub}`);
    assert(info.age_over_18 === true, `userinfo age_over_18 is ${info.age_over_18}`);
    for (const withheld of ["given_name", "family_name", "birthdate", "email"]) {
      assert(!(withheld in info), `userinfo released ${withheld}`);
    }
  });

  // 2. acr_values above the seal's level: access_denied at the redirect, nothing sent to the phone.
  const second = await step("authorization_request_high", () => authorization(config, `${LOA}high`));
  const denied = await step("phone_form_high", () => askThePhone(new Browser(issuer.origin), second.url));
  await step("access_denied", async () => {
    assert(denied.startsWith(REDIRECT_URI), `expected a redirect to the client, got ${denied}`);
    try {
      await client.authorizationCodeGrant(config, new URL(denied), {
        pkceCodeVerifier: second.pkceCodeVerifier,
        expectedState: second.state,
        expectedNonce: second.nonce,
        idTokenExpected: true,
      });
    } catch (err) {
      if (err instanceof client.AuthorizationResponseError && err.error === "access_denied") {
        return;
      }
      throw new Error(`expected access_denied, got ${describe(err)}`);
    }
    throw new Error("the code grant succeeded above the seal's level");
  });
}

let exitCode = 0;
try {
  await main();
} catch (err) {
  if (!(err instanceof StepFailed)) {
    steps.push({ name: "setup", ok: false, error: describe(err) });
    console.error(err);
  }
  exitCode = 1;
}
const ok = exitCode === 0 && steps.length > 0 && steps.every((s) => s.ok);
process.stdout.write(`${JSON.stringify({ ok, steps })}\n`);
process.exitCode = ok ? 0 : 1;
