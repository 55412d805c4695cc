// token.js — the bearer token writes need (silences, scaling): asked for
// with a prompt before the first write, kept in sessionStorage (it goes
// away with the tab, never into the URL or localStorage).
const KEY = 'lookout-token';

export const token = () => sessionStorage.getItem(KEY) || '';

// Asks for the token (prefilled with the one kept); null when cancelled.
export function askToken() {
  const t = prompt("Bearer token for writes (the server's <data>/token file):", token());
  if (t !== null) sessionStorage.setItem(KEY, t.trim());
  return t;
}
