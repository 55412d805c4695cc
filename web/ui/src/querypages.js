// querypages.js — the pages with query editors (Explore, Logs), loaded
// together on first use (main.js): they hold CodeMirror and the parsers.
export { explorePage } from './explore.js';
export { logsPage } from './logs.js';
