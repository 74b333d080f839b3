// Lighthouse 12 on Splatpod's home, capture, project and share pages, through the machine's Chromium
// (puppeteer-core, no browser download), plus Chromium's own installability check of the PWA
// (Lighthouse 12 has no PWA category). Writes the figures as one JSON object.
//
//   node report.mjs BASE_URL OUT_JSON COMMIT SERVER API_KEY PROJECT_ID SHARE_TOKEN
// The project page is audited with API_KEY in the page's storage (Lighthouse keeps storage for
// that run); the share page by its public link.
import fs from "node:fs";
import lighthouse from "lighthouse";
import puppeteer from "puppeteer-core";

const [base, out, commit, server, key, project, token] = process.argv.slice(2);
if (!base || !out || !key || !project || !token) {
  console.error("usage: node report.mjs BASE_URL OUT_JSON COMMIT SERVER API_KEY PROJECT_ID SHARE_TOKEN");
  process.exit(2);
}
const port = 9333;
const browser = await puppeteer.launch({
  executablePath: process.env.CHROME_PATH || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", `--remote-debugging-port=${port}`],
});
const version = await browser.version();

// The key in the origin's storage, as the PWA keeps it after the person enters it once.
{
  const page = await browser.newPage();
  await page.goto(base + "/", { waitUntil: "networkidle0" });
  await page.evaluate((k) => localStorage.setItem("splatpod-api-key", k), key);
  await page.close();
}

const pages = {
  home: ["/", {}],
  capture: ["/capture", {}],
  // A returning person's visit: storage (the key) and the HTTP cache are kept.
  project: [`/project/${project}`, { disableStorageReset: true }],
  share: [`/s/${token}`, {}],
};
const result = {
  name: "lighthouse",
  commit: commit || "unknown",
  device: `${version}, headless, Lighthouse 12.2.3 mobile preset (emulated Moto G Power, simulated slow 4G), this 2-core machine, server ${server || "release build"}`,
};
for (const [name, [path, flags]] of Object.entries(pages)) {
  const run = await lighthouse(base + path, { port, output: "json", logLevel: "error", ...flags });
  const lhr = run.lhr;
  for (const [id, cat] of Object.entries(lhr.categories)) {
    result[`${id.replace(/-/g, "_")}_score_${name}`] = Math.round((cat.score ?? 0) * 100);
  }
  const weight = lhr.audits["total-byte-weight"];
  result[`transfer_bytes_first_load_${name}`] = Math.round(weight?.numericValue ?? 0);
  const items = weight?.details?.items ?? [];
  const wasm = items.find((i) => String(i.url).endsWith(".wasm"));
  if (wasm) result[`transfer_bytes_wasm_${name}`] = Math.round(wasm.totalBytes);
  for (const audit of ["first-contentful-paint", "largest-contentful-paint", "interactive", "total-blocking-time"]) {
    const a = lhr.audits[audit];
    if (a?.numericValue !== undefined) {
      result[`${audit.replace(/-/g, "_")}_ms_${name}`] = Math.round(a.numericValue);
    }
  }
  const failed = Object.values(lhr.audits)
    .filter((a) => a.score !== null && a.score < 1 && ["accessibility", "best-practices"].some(
      (c) => lhr.categories[c]?.auditRefs.some((r) => r.id === a.id && r.weight > 0)))
    .map((a) => a.id);
  result[`failed_audits_${name}`] = failed;
}

// The audited project page is the project itself (the key in storage was accepted), and the
// share page names it: both read from the pages as a person would see them.
for (const [name, path] of [["project", `/project/${project}`], ["share", `/s/${token}`]]) {
  const page = await browser.newPage();
  await page.goto(base + path, { waitUntil: "networkidle0" });
  const selector = name === "project" ? "#project-name" : "#share-title";
  const title = await page
    .waitForSelector(selector, { timeout: 30000 })
    .then((el) => el.evaluate((e) => e.textContent))
    .catch(() => null);
  result[`shows_the_project_${name}`] = title === "Fountain" ? 1 : 0;
  await page.close();
}

// Installability as Chromium itself judges it (manifest, icons, service worker with fetch).
const page = await browser.newPage();
await page.goto(base + "/", { waitUntil: "networkidle0" });
await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
const cdp = await page.createCDPSession();
const { installabilityErrors } = await cdp.send("Page.getInstallabilityErrors");
result.installable_pwa = installabilityErrors.length === 0 ? 1 : 0;
result.installability_errors = installabilityErrors.map((e) => e.errorId);
await browser.close();

fs.writeFileSync(out, JSON.stringify(result, null, 2) + "\n");
console.log(JSON.stringify(result, null, 2));
