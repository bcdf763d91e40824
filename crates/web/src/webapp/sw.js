// The app's service worker: keeps the app shell (its page, scripts, styles and icons) so that
// the app opens without a network, and nothing else. It never stores an answer of the app API
// or any page with personal data: those requests are not even looked at.
const CACHE = 'iamsmart-app-__VERSION__';
const SHELL = __SHELL__;

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('iamsmart-app-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  // Only the shell's own files; the app's opening page under any hash or query.
  const path = url.pathname === '/app/' ? '/app/' : url.pathname;
  if (!SHELL.includes(path)) return;
  // Network first (a new version shows at once), the cached shell when offline.
  event.respondWith(
    fetch(req).then((res) => {
      if (res.ok) {
        const copy = res.clone();
        caches.open(CACHE).then((c) => c.put(path, copy));
      }
      return res;
    }).catch(() => caches.match(path).then((hit) => hit || Response.error())),
  );
});
