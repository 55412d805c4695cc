// url.js — page state in the URL: #/<page>?<params>, so every view can be
// shared. Pages write with setPageParams (replaceState: no history entry
// per edit); a hash change (a pasted link, back/forward) rebuilds the page.

export function parseHash() {
  const [path, qs = ''] = location.hash.replace(/^#\/?/, '').split('?');
  return { path, params: new URLSearchParams(qs) };
}

export function setPageParams(params) {
  history.replaceState(null, '', `#/${parseHash().path}?${params}`);
}
