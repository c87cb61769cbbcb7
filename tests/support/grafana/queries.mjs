#!/usr/bin/env node
// Lists every query of the dashboards, expanded as Grafana and its data
// sources would expand it, so that a test can run each one against the real
// engine (ClickHouse over HTTP, PromQL against a Prometheus).
//
//   node tests/support/grafana/queries.mjs [dashboard.json ...]
//
// Without arguments: every grafana/dashboards/*.json. Needs no node_modules.
// Prints one JSON object per line, for every panel target and every query
// variable:
//   {"dashboard": uid, "file": name, "panel": title | "variable $name",
//    "panelId": n | null, "refId": "A" | null, "kind": "target" | "variable",
//    "datasource": "clickhouse" | "prometheus",
//    "format": "table" | "timeseries"        (ClickHouse)
//    "instant": bool                          (Prometheus)
//    "query": the expanded SQL or PromQL}
// Exits 1 (after printing everything) if a query still holds a `$` macro or
// variable that nothing expanded.
//
// Environment (the test's stand-ins for the time picker and the variables):
//   FROM, TO        unix seconds of the range; default 2026-01-01T00:00:00Z
//                   (1767225600) and FROM + 1 day
//   INTERVAL        the panel interval ($__interval); default 1m
//   RATE_INTERVAL   $__rate_interval; default 1m
//   CALL_ID         value of the $call_id text box; default ''
//   SEARCH          value of the $search text box; default ''
//   CARRIERS        the options of a $carrier query variable (what its query
//                   would return), comma-separated; default acme,globex,unknown
//   AGENTS          the options of $agent; default
//                   +15550000000,alice,bob,carol,dave,frank
//   INSTANCES       the options of $instance; default 127.0.0.1:9898
//   VALUES_<name>   the options of any other query variable <name>
//   VAR_<name>      the selected value(s) of variable <name>, comma-separated
//                   (a text box takes the whole string); without it a
//                   multi-value variable with "Include All" is at All
//
// Substitutions, in the order Grafana applies them:
// 1. (ClickHouse only, the plugin's frontend) $__conditionalAll(phrase, $var)
//    becomes `1=1` when $var is at All, else phrase.
// 2. Dashboard variables (Grafana's template service), in each of the forms
//    $var, ${var}, ${var:format}, [[var]], [[var:format]]:
//    - the value is the selection; All is the variable's allValue when set
//      (inserted raw, as Grafana does, e.g. `.*`), else every option;
//    - formats: sqlstring 'a','b' (' doubled), singlequote 'a','b' (' as \'),
//      doublequote, csv a,b, pipe a|b, regex (a|b) regex-escaped, raw, text,
//      json, glob {a,b}, percentencode, queryparam var-x=a&var-x=b;
//    - without a format: ClickHouse (plugin's formatter) 'a','b' for several
//      values, the bare value for one; Prometheus (its interpolateQueryExpr)
//      the value with \ and ' escaped for a single-value variable, else
//      regex-escaped values joined as (a|b) (one value: no parentheses);
//    - built-ins: $__interval and $__rate_interval -> INTERVAL and
//      RATE_INTERVAL, $__interval_ms, $__range (e.g. 86400s), $__range_s,
//      $__range_ms, $__from and $__to (epoch milliseconds).
// 3. (ClickHouse only) the plugin's backend macros, exactly as its
//    pkg/macros/macros.go writes them (F, T = FROM, TO in seconds; N =
//    max(interval seconds, 1)):
//    $__timeFilter(c)      c >= toDateTime(F) AND c <= toDateTime(T)
//    $__timeFilter_ms(c)   c >= fromUnixTimestamp64Milli(F*1000) AND c <= fromUnixTimestamp64Milli(T*1000)
//    $__dateFilter(c)      c >= toDate('YYYY-MM-DD') AND c <= toDate('YYYY-MM-DD')
//    $__dateTimeFilter(d, t) and $__dt(d, t)
//                          (d >= toDate(..) AND d <= toDate(..)) AND (t >= toDateTime(F) AND t <= toDateTime(T))
//    $__fromTime, $__toTime          toDateTime(F), toDateTime(T)
//    $__fromTime_ms, $__toTime_ms    fromUnixTimestamp64Milli(F*1000), ...
//    $__timeInterval(c)    toStartOfInterval(toDateTime(c), INTERVAL N second)
//    $__timeInterval_ms(c) toStartOfInterval(toDateTime64(c, 3), INTERVAL N*1000 millisecond)
//    $__interval_s         N
// 4. Prometheus variable queries (Grafana functions, not PromQL) become the
//    PromQL whose result carries the same values:
//    label_values(m, l) -> group by (l) (m); label_values(l) -> group by (l) ({__name__!=""});
//    query_result(e) -> e; metrics(re) -> group by (__name__) ({__name__=~"re"}).
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const project = resolve(here, '../../..');
const env = process.env;

const FROM = Number(env.FROM ?? 1767225600);
const TO = Number(env.TO ?? FROM + 86400);
if (!Number.isInteger(FROM) || !Number.isInteger(TO) || TO < FROM) {
  console.error('queries.mjs: FROM and TO must be unix seconds with FROM <= TO');
  process.exit(2);
}
const INTERVAL = env.INTERVAL ?? '1m';
const RATE_INTERVAL = env.RATE_INTERVAL ?? '1m';
const INTERVAL_S = Math.max(Math.floor(durationSeconds(INTERVAL)), 1);

const OPTION_DEFAULTS = {
  carrier: env.CARRIERS ?? 'acme,globex,unknown',
  agent: env.AGENTS ?? '+15550000000,alice,bob,carol,dave,frank',
  instance: env.INSTANCES ?? '127.0.0.1:9898',
};
const TEXT_DEFAULTS = { call_id: env.CALL_ID, search: env.SEARCH };

function durationSeconds(s) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)$/.exec(s);
  if (!m) throw new Error(`bad interval ${s}`);
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 }[m[2]];
  return Number(m[1]) * unit;
}

function splitList(s) {
  return s === '' ? [] : s.split(',').map((x) => x.trim());
}

// The state of every variable of a dashboard: {options, selected, all, def}.
function variableStates(dashboard) {
  const states = new Map();
  for (const v of dashboard.templating?.list ?? []) {
    let options = [];
    if (v.type === 'custom') options = splitList(String(v.query ?? '')).map((o) => o.split(' : ').pop());
    else if (v.type === 'query') options = splitList(env[`VALUES_${v.name}`] ?? OPTION_DEFAULTS[v.name] ?? '');
    else if (v.type === 'constant') options = [String(v.query ?? '')];
    let selected;
    const chosen = env[`VAR_${v.name}`];
    if (v.type === 'textbox') {
      selected = [chosen ?? TEXT_DEFAULTS[v.name] ?? String(v.current?.value ?? v.query ?? '')];
    } else if (chosen !== undefined) {
      selected = splitList(chosen);
    } else if (v.includeAll) {
      selected = ['$__all'];
    } else {
      const cur = v.current?.value;
      selected = cur === undefined || cur === '$__all' ? options.slice(0, 1) : [].concat(cur);
    }
    const isAll = selected.length === 1 && selected[0] === '$__all';
    states.set(v.name, { def: v, options, selected, isAll });
  }
  return states;
}

const regexEscape = (s) => s.replace(/[\\^$*+?.()|[\]{}\/]/g, '\\$&');
// Grafana's Prometheus data source (language_utils.ts).
const promRegularEscape = (s) => s.replace(/\\/g, '\\\\').replace(/'/g, "\\\\'");
const promRegexEscape = (s) => s.replace(/\\/g, '\\\\\\\\').replace(/[$^*{}[\]'+?.()|]/g, '\\\\$&');

function formatValue(values, format, name, def, dsKind) {
  switch (format) {
    case undefined:
      if (dsKind === 'clickhouse') return values.length === 1 && !Array.isArray(def.current?.value) && !def.multi ? values[0] : `'${values.join("','")}'`;
      if (!def.multi && !def.includeAll) return promRegularEscape(values[0] ?? '');
      if (values.length === 1) return promRegexEscape(values[0]);
      return `(${values.map(promRegexEscape).join('|')})`;
    case 'sqlstring':
      return values.map((v) => `'${v.replace(/'/g, "''")}'`).join(',');
    case 'singlequote':
      return values.map((v) => `'${v.replace(/'/g, "\\'")}'`).join(',');
    case 'doublequote':
      return values.map((v) => `"${v.replace(/"/g, '\\"')}"`).join(',');
    case 'csv':
    case 'raw':
      return values.join(',');
    case 'pipe':
      return values.join('|');
    case 'regex':
      return values.length === 1 ? regexEscape(values[0]) : `(${values.map(regexEscape).join('|')})`;
    case 'text':
      return values.join(' + ');
    case 'json':
      return JSON.stringify(values.length === 1 ? values[0] : values);
    case 'glob':
      return values.length === 1 ? values[0] : `{${values.join(',')}}`;
    case 'percentencode':
      return values.length === 1 ? encodeURIComponent(values[0]) : encodeURIComponent(`{${values.join(',')}}`);
    case 'queryparam':
      return values.map((v) => `var-${encodeURIComponent(name)}=${encodeURIComponent(v)}`).join('&');
    default:
      throw new Error(`unsupported variable format :${format}`);
  }
}

function builtin(name) {
  switch (name) {
    case '__interval':
      return INTERVAL;
    case '__interval_ms':
      return String(Math.round(durationSeconds(INTERVAL) * 1000));
    case '__rate_interval':
      return RATE_INTERVAL;
    case '__range':
      return `${TO - FROM}s`;
    case '__range_s':
      return String(TO - FROM);
    case '__range_ms':
      return String((TO - FROM) * 1000);
    case '__from':
      return String(FROM * 1000);
    case '__to':
      return String(TO * 1000);
    default:
      return undefined;
  }
}

// Grafana's variable regex (public/app/features/variables/utils.ts).
const VARIABLE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\${(\w+)(?:\.([^:^}]+))?(?::([^}]+))?}/g;

function replaceVariables(text, states, dsKind) {
  return text.replace(VARIABLE, (match, n1, n2, f2, n3, _path, f3) => {
    const name = n1 ?? n2 ?? n3;
    const format = f2 ?? f3;
    const b = builtin(name);
    if (b !== undefined) return b;
    const st = states.get(name);
    if (!st) return match; // not a variable: a macro for the backend, or a mistake caught later
    if (st.isAll && st.def.allValue !== undefined && st.def.allValue !== null && st.def.allValue !== '') {
      if (format === 'queryparam') return `var-${encodeURIComponent(name)}=All`;
      return st.def.allValue;
    }
    const values = st.isAll ? st.options : st.selected;
    return formatValue(values, format, name, st.def, dsKind);
  });
}

// Finds `$__name(` ... `)` with balanced parentheses; returns [start, end, args].
function macroCalls(text, name) {
  const out = [];
  const re = new RegExp(`\\$__${name}(?![\\w])`, 'g');
  let m;
  while ((m = re.exec(text))) {
    const start = m.index;
    let i = start + m[0].length;
    if (text[i] !== '(') {
      out.push([start, i, null]);
      continue;
    }
    let depth = 0;
    let quote = null;
    const args = [];
    let cur = '';
    for (; i < text.length; i++) {
      const ch = text[i];
      if (quote) {
        cur += ch;
        if (ch === quote && text[i - 1] !== '\\') quote = null;
        continue;
      }
      if (ch === "'" || ch === '"' || ch === '`') {
        quote = ch;
        cur += ch;
      } else if (ch === '(') {
        if (depth > 0) cur += ch;
        depth++;
      } else if (ch === ')') {
        depth--;
        if (depth === 0) break;
        cur += ch;
      } else if (ch === ',' && depth === 1) {
        args.push(cur.trim());
        cur = '';
      } else {
        cur += ch;
      }
    }
    if (depth !== 0) throw new Error(`unbalanced parentheses after $__${name}`);
    args.push(cur.trim());
    out.push([start, i + 1, args]);
  }
  return out;
}

function replaceMacro(text, name, fn) {
  // Right to left, so that earlier offsets stay valid and nested calls expand.
  for (;;) {
    const calls = macroCalls(text, name);
    if (calls.length === 0) return text;
    const [start, end, args] = calls[calls.length - 1];
    text = text.slice(0, start) + fn(args) + text.slice(end);
  }
}

function conditionalAll(text, states) {
  return replaceMacro(text, 'conditionalAll', (args) => {
    if (!args || args.length !== 2) throw new Error('$__conditionalAll needs (phrase, $variable)');
    const m = /^\$\{?(\w+)/.exec(args[1]);
    const st = m && states.get(m[1]);
    if (!st) throw new Error(`$__conditionalAll: unknown variable ${args[1]}`);
    return st.isAll ? '1=1' : args[0];
  });
}

const toDateTime = (s) => `toDateTime(${s})`;
const toMilli = (s) => `fromUnixTimestamp64Milli(${s * 1000})`;
const toDate = (s) => `toDate('${new Date(s * 1000).toISOString().slice(0, 10)}')`;

function oneArg(name, args) {
  if (!args || args.length !== 1) throw new Error(`$__${name} expects 1 argument`);
  return args[0];
}

function clickhouseMacros(text) {
  const dt = (args) => {
    if (!args || args.length !== 2) throw new Error('$__dateTimeFilter expects 2 arguments');
    const [d, t] = args;
    return `(${d} >= ${toDate(FROM)} AND ${d} <= ${toDate(TO)}) AND (${t} >= ${toDateTime(FROM)} AND ${t} <= ${toDateTime(TO)})`;
  };
  const macros = [
    ['timeFilter_ms', (a) => { const c = oneArg('timeFilter_ms', a); return `${c} >= ${toMilli(FROM)} AND ${c} <= ${toMilli(TO)}`; }],
    ['timeFilter', (a) => { const c = oneArg('timeFilter', a); return `${c} >= ${toDateTime(FROM)} AND ${c} <= ${toDateTime(TO)}`; }],
    ['dateFilter', (a) => { const c = oneArg('dateFilter', a); return `${c} >= ${toDate(FROM)} AND ${c} <= ${toDate(TO)}`; }],
    ['dateTimeFilter', dt],
    ['dt', dt],
    ['fromTime_ms', () => toMilli(FROM)],
    ['toTime_ms', () => toMilli(TO)],
    ['fromTime', () => toDateTime(FROM)],
    ['toTime', () => toDateTime(TO)],
    ['timeInterval_ms', (a) => `toStartOfInterval(toDateTime64(${oneArg('timeInterval_ms', a)}, 3), INTERVAL ${INTERVAL_S * 1000} millisecond)`],
    ['timeInterval', (a) => `toStartOfInterval(toDateTime(${oneArg('timeInterval', a)}), INTERVAL ${INTERVAL_S} second)`],
    ['interval_s', () => String(INTERVAL_S)],
  ];
  for (const [name, fn] of macros) text = replaceMacro(text, name, fn);
  return text;
}

function promVariableQuery(q) {
  let m;
  if ((m = /^\s*label_values\((.+),\s*(\w+)\s*\)\s*$/s.exec(q))) return `group by (${m[2]}) (${m[1].trim()})`;
  if ((m = /^\s*label_values\(\s*(\w+)\s*\)\s*$/.exec(q))) return `group by (${m[1]}) ({__name__!=""})`;
  if ((m = /^\s*query_result\((.+)\)\s*$/s.exec(q))) return m[1].trim();
  if ((m = /^\s*metrics\((.+)\)\s*$/.exec(q))) return `group by (__name__) ({__name__=~"${m[1].trim()}"})`;
  return q;
}

function kindOf(ds) {
  if (!ds) return null;
  if (ds.type === 'grafana-clickhouse-datasource' || ds.uid === 'voxprobe-clickhouse') return 'clickhouse';
  if (ds.type === 'prometheus' || ds.uid === 'voxprobe-prometheus') return 'prometheus';
  return null;
}

function expand(text, states, dsKind) {
  if (dsKind === 'clickhouse') {
    text = conditionalAll(text, states);
    text = replaceVariables(text, states, dsKind);
    return clickhouseMacros(text);
  }
  return replaceVariables(text, states, dsKind);
}

const UNEXPANDED = /\$\{?\w+|\[\[\w+/;

const files = process.argv.length > 2
  ? process.argv.slice(2).map((f) => resolve(f))
  : readdirSync(join(project, 'grafana/dashboards')).filter((f) => f.endsWith('.json')).sort().map((f) => join(project, 'grafana/dashboards', f));

// A reader that stops early (head, grep -m1) is not an error.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

let bad = 0;
function emit(record) {
  if (UNEXPANDED.test(record.query)) {
    console.error(`queries.mjs: ${record.file}: ${record.panel} ${record.refId ?? ''}: unexpanded ${UNEXPANDED.exec(record.query)[0]}`);
    bad++;
  }
  process.stdout.write(JSON.stringify(record) + '\n');
}

for (const path of files) {
  const dashboard = JSON.parse(readFileSync(path, 'utf8'));
  const file = basename(path);
  const states = variableStates(dashboard);
  const base = { dashboard: dashboard.uid, file };

  for (const v of dashboard.templating?.list ?? []) {
    if (v.type !== 'query') continue;
    const dsKind = kindOf(v.datasource);
    const raw = typeof v.query === 'string' ? v.query : dsKind === 'clickhouse' ? v.query?.rawSql : v.query?.query;
    if (!dsKind || typeof raw !== 'string') continue;
    let query = expand(raw, states, dsKind);
    const record = { ...base, panel: `variable $${v.name}`, panelId: null, refId: null, kind: 'variable', datasource: dsKind };
    if (dsKind === 'prometheus') {
      record.grafana = query;
      query = promVariableQuery(query);
      record.instant = true;
    } else {
      record.format = 'table';
    }
    emit({ ...record, query });
  }

  const panels = (list) => (list ?? []).flatMap((p) => [p, ...(p.type === 'row' ? panels(p.panels) : [])]);
  for (const p of panels(dashboard.panels)) {
    for (const t of p.targets ?? []) {
      if (t.hide) continue;
      const dsKind = kindOf(t.datasource ?? p.datasource);
      if (!dsKind) continue;
      const record = { ...base, panel: p.title, panelId: p.id, refId: t.refId ?? null, kind: 'target', datasource: dsKind };
      if (dsKind === 'clickhouse') {
        record.format = t.format === 0 ? 'timeseries' : 'table';
        emit({ ...record, query: expand(t.rawSql ?? '', states, dsKind) });
      } else {
        record.instant = Boolean(t.instant) && !t.range;
        emit({ ...record, query: expand(t.expr ?? '', states, dsKind) });
      }
    }
  }
}
if (bad > 0) process.exitCode = 1;
