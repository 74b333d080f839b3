// Splatpod service worker: keeps the app shell available offline.
//
// Install: fetch "/" and precache it together with every same-origin script, stylesheet, wasm and
// icon it references (Trunk's hashed file names are read from the page itself), plus the manifest.
// Fetch: network first for same-origin GETs, refreshing the cache; when the network fails, serve
// the cached copy, and for page navigations the cached shell. API and health calls are never
// cached, so the app always sees the server's real state.
const CACHE = "splatpod-shell-v1";
const NEVER_CACHE = [/^\/api\//, /^\/v2\//, /^\/health$/, /^\/readiness$/, /^\/s\//];

async function precacheShell() {
  const cache = await caches.open(CACHE);
  const response = await fetch("/", { cache: "no-store" });
  const html = await response.clone().text();
  await cache.put("/", response);
  const urls = new Set(["/manifest.webmanifest", "/icons/icon-192.png", "/icons/icon-512.png"]);
  for (const m of html.matchAll(/(?:href|src)="([^"]+)"/g)) {
    const url = new URL(m[1], self.location.origin);
    if (url.origin === self.location.origin && url.pathname !== "/") urls.add(url.pathname);
  }
  await cache.addAll([...urls]);
}

self.addEventListener("install", (event) => {
  event.waitUntil(precacheShell().then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (NEVER_CACHE.some((re) => re.test(url.pathname))) return;
  event.respondWith(
    fetch(request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          const key = request.mode === "navigate" ? "/" : request;
          caches.open(CACHE).then((cache) => cache.put(key, copy));
        }
        return response;
      })
      .catch(async () => {
        const cached = await caches.match(request.mode === "navigate" ? "/" : request);
        return cached || Response.error();
      }),
  );
});
