// The door's service worker (served as /checkin/sw.js, scope /checkin/): keeps the door screen
// and the files it loads, so a tablet that loses the network — or reloads without it — still
// opens the screen. The guest list and the queue of writes live in the page's IndexedDB; writes
// and data requests are never answered from here.
var CACHE = "hxt-door-v1";

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

// The page names what to keep: itself, its style sheets and scripts, and the modules its script
// imports (listed as <link rel="modulepreload">, which tests/blueprints/test_door.py checks).
// The files come from the browser's cache when it has them — the page has just loaded them — so
// the venue's network carries only the page itself (never stored by the browser) once more.
self.addEventListener("message", function (event) {
  var files = (event.data && event.data.keep) || [];
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return Promise.all(files.filter(sameSite).map(function (url) {
      return fetch(url, { credentials: "same-origin", redirect: "manual", cache: "force-cache" })
        .then(function (response) {
          if (response.ok && response.type === "basic") { return cache.put(url, response); }
        }).catch(function () {});
    }));
  }));
});

function sameSite(url) {
  try { return new URL(url).origin === self.location.origin; } catch (e) { return false; }
}

function kept(request) {
  var url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) { return false; }
  if (url.pathname.indexOf("/static/") === 0) { return true; }
  return request.mode === "navigate" && /^\/checkin\/\d+\/?$/.test(url.pathname);
}

// Network first (always the newest screen and scripts); the kept copy when there is no network.
self.addEventListener("fetch", function (event) {
  if (!kept(event.request)) { return; }
  event.respondWith(fetch(event.request).then(function (response) {
    if (response.ok && !response.redirected) {
      var copy = response.clone();
      caches.open(CACHE).then(function (cache) { cache.put(event.request, copy); });
    }
    return response;
  }).catch(function () {
    return caches.match(event.request, { ignoreVary: true }).then(function (hit) {
      return hit || Response.error();
    });
  }));
});
