// editor.js — the query editors on CodeMirror 6: PromQL (codemirror-promql,
// completing against Lookout's own API) and LogQL (highlighted by
// @grafana/lezer-logql's parser).
//
// Metric-name completion stays fast with any number of names: each lookup
// asks the server for names starting with what was typed, at most
// NAME_LIMIT of them; when the answer was cut, the completion is marked
// "not reusable" so the next keystroke asks again with the longer prefix.
// The client never downloads the full list.
import { autocompletion, closeBrackets, closeBracketsKeymap, completionKeymap } from '@codemirror/autocomplete';
import { history, redo, undo } from '@codemirror/commands';
import { bracketMatching, HighlightStyle, LRLanguage, syntaxHighlighting } from '@codemirror/language';
import { EditorState } from '@codemirror/state';
import { EditorView, keymap, placeholder } from '@codemirror/view';
import { parser as logqlParser } from '@grafana/lezer-logql';
import { styleTags, tags as t } from '@lezer/highlight';
// Only the completion part of codemirror-promql (not its linter or HTTP
// client, which would not fit the size budget).
import { HybridComplete } from '@prometheus-io/codemirror-promql/dist/esm/complete/hybrid.js';
import { parser as promqlParser } from '@prometheus-io/lezer-promql';
import { call } from './api.js';

export const NAME_LIMIT = 200;
const LOOKBACK_S = 12 * 3600;

const style = HighlightStyle.define([
  { tag: t.keyword, color: '#708' },
  { tag: [t.operatorKeyword, t.modifier], color: '#708' },
  { tag: t.function(t.variableName), color: '#05a' },
  { tag: t.labelName, color: '#a50' },
  { tag: t.string, color: '#a11' },
  { tag: t.number, color: '#164' },
  { tag: [t.operator, t.logicOperator], color: '#555' },
  { tag: t.comment, color: '#888', fontStyle: 'italic' },
  { tag: t.invalid, color: '#f00' },
]);

const since = () => Math.floor(Date.now() / 1000 - LOOKBACK_S);

// codemirror-promql's PrometheusClient over Lookout's API, every answer
// bounded by a limit.
class LookoutClient {
  constructor() { this.truncated = false; }

  async metricNames(prefix = '') {
    const j = await call('/api/v1/label/__name__/values', { prefix, limit: NAME_LIMIT, start: since() });
    if (j.warnings && j.warnings.length) this.truncated = true;
    return j.data;
  }

  async labelNames(metricName) {
    return (await call('/api/v1/labels', { 'match[]': metricName || undefined, start: since(), limit: 1000 })).data;
  }

  async labelValues(labelName, metricName) {
    const j = await call(`/api/v1/label/${encodeURIComponent(labelName)}/values`,
      { 'match[]': metricName || undefined, start: since(), limit: NAME_LIMIT });
    if (j.warnings && j.warnings.length) this.truncated = true;
    return j.data;
  }

  async series(metricName) {
    const j = await call('/api/v1/series', { 'match[]': metricName, start: since(), limit: 1000 });
    return j.data.map((o) => new Map(Object.entries(o)));
  }

  async metricMetadata() { return {}; } // Lookout keeps no metric metadata

  async flags() { return {}; }
}

const promqlLanguage = LRLanguage.define({
  parser: promqlParser,
  languageData: { closeBrackets: { brackets: ['(', '[', '{', "'", '"', '`'] }, commentTokens: { line: '#' } },
});

function promqlExtension() {
  const client = new LookoutClient();
  const inner = new HybridComplete(client, 0);
  const complete = async (context) => {
    client.truncated = false;
    const r = await inner.promQL(context);
    if (r && client.truncated) r.validFor = undefined;
    return r;
  };
  return [promqlLanguage, promqlLanguage.data.of({ autocomplete: complete })];
}

const logqlLanguage = LRLanguage.define({
  parser: logqlParser.configure({
    props: [styleTags({
      String: t.string,
      'Number Duration Bytes': t.number,
      'Identifier LabelName': t.labelName,
      LineComment: t.comment,
      'Json Logfmt Unpack Pattern Regexp Unwrap LabelFormat LineFormat Decolorize Drop Keep By Without Offset Bool On Ignoring GroupLeft GroupRight': t.keyword,
      'Sum Avg Count Max Min Stddev Stdvar Bottomk Topk Sort Sort_Desc CountOverTime Rate RateCounter BytesOverTime BytesRate AvgOverTime SumOverTime MinOverTime MaxOverTime StddevOverTime StdvarOverTime QuantileOverTime FirstOverTime LastOverTime AbsentOverTime': t.function(t.variableName),
      'And Or Unless': t.logicOperator,
      'PipeExact PipeMatch PipePattern Npa Pipe Eq Neq Re Nre Gtr Gte Lss Lte Eql': t.operator,
    })],
  }),
  languageData: { closeBrackets: { brackets: ['(', '[', '{', '"', '`'] } },
});

// An editor in parent; run() on Shift+Enter or Ctrl/Cmd+Enter. Returns the
// view (its text: view.state.doc.toString()).
function makeEditor(parent, doc, lang, run, hint) {
  const runKey = () => { run(); return true; };
  return new EditorView({
    parent,
    state: EditorState.create({
      doc,
      extensions: [
        history(), closeBrackets(), bracketMatching(), autocompletion(), syntaxHighlighting(style),
        EditorView.lineWrapping, placeholder(hint), lang,
        // cursor motion and deletion are the browser's own (CodeMirror follows
        // the native selection); only running and undo need keys here
        keymap.of([{ key: 'Shift-Enter', run: runKey }, { key: 'Mod-Enter', run: runKey },
          { key: 'Mod-z', run: undo, preventDefault: true }, { key: 'Mod-y', mac: 'Mod-Shift-z', run: redo, preventDefault: true },
          ...closeBracketsKeymap, ...completionKeymap]),
      ],
    }),
  });
}

export const promqlEditor = (parent, doc, run) =>
  makeEditor(parent, doc, promqlExtension(), run, 'PromQL, e.g. rate(lookout_http_requests_total[5m]) — Shift+Enter runs');

export const logqlEditor = (parent, doc, run) =>
  makeEditor(parent, doc, logqlLanguage, run, 'LogQL, e.g. {job="varlogs"} |= "error" — Shift+Enter runs');

export const textOf = (view) => view.state.doc.toString();

export function setText(view, text) {
  view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
}
