#!/usr/bin/env node
// Validates Grafana dashboards against Grafana's own dashboard type.
//
//   node tests/support/grafana/validate.mjs [dashboard.json ...]
//
// Without arguments: every grafana/dashboards/*.json of the project.
// (Install the tools first: scripts/install-grafana-tools.)
//
// 1. Schema. The JSON Schema is generated from the TypeScript type
//    `Dashboard` that @grafana/schema exports (dist/types/index.d.ts: the
//    "veneer" Dashboard, i.e. the CUE-generated raw Dashboard with panels
//    typed Panel | RowPanel) by ts-json-schema-generator, once, and cached
//    in node_modules/.cache/voxprobe-grafana/ keyed by both package
//    versions. Interfaces become closed objects (additionalProperties:
//    false), as the CUE definitions they come from are closed; open parts of
//    the model (panel options, fieldConfig.custom, targets, variable
//    queries) are Record<string, unknown> there and stay open here.
//    Validation is ajv (draft-07) with strict mode off (the generated schema
//    carries keywords ajv's strict mode rejects) and allErrors on.
// 2. Project rules, beyond the schema:
//    - every dashboard has a uid, unique among the files checked;
//    - panel ids, and the titles of non-row panels, are unique in a dashboard;
//    - gridPos: w in 1..24, h >= 1, x >= 0, y >= 0, x + w <= 24, and no two
//      panels overlap;
//    - every datasource reference (panel, target, variable, annotation) is
//      one of voxprobe-prometheus (type prometheus) or voxprobe-clickhouse
//      (type grafana-clickhouse-datasource), or Grafana's built-in
//      annotation source; a target uses its panel's datasource;
//    - ClickHouse targets and variable queries are v4 SQL-editor queries
//      (editorType "sql", non-empty rawSql; format 0 time series or 1 table);
//      Prometheus targets have an expr.
//
// Prints one line per error: `FILE: /json/pointer: message` and exits 1 if
// there is any; prints a summary and exits 0 otherwise.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));
const project = resolve(here, '../../..');
const require = createRequire(import.meta.url);

const DATASOURCES = {
  'voxprobe-prometheus': 'prometheus',
  'voxprobe-clickhouse': 'grafana-clickhouse-datasource',
};
const GRAFANA_BUILTIN = '-- Grafana --';

function fail(message) {
  console.error(message);
  process.exit(2);
}

if (!existsSync(join(here, 'node_modules/@grafana/schema'))) {
  fail('validate.mjs: node_modules missing; run scripts/install-grafana-tools first');
}

function packageVersion(name) {
  return JSON.parse(readFileSync(join(here, 'node_modules', name, 'package.json'), 'utf8')).version;
}

async function dashboardSchema() {
  const schemaVersion = packageVersion('@grafana/schema');
  const generatorVersion = packageVersion('ts-json-schema-generator');
  const cacheDir = join(here, 'node_modules/.cache/voxprobe-grafana');
  const cache = join(cacheDir, `dashboard-schema-${schemaVersion}-tsjsg-${generatorVersion}.json`);
  if (existsSync(cache)) {
    return JSON.parse(readFileSync(cache, 'utf8'));
  }
  const { createGenerator } = await import('ts-json-schema-generator');
  const generator = createGenerator({
    path: join(here, 'node_modules/@grafana/schema/dist/types/index.d.ts'),
    type: 'Dashboard',
    // The package's .d.ts files are compiled output; type-checking them again
    // only costs time.
    skipTypeCheck: true,
    // Inline every type but the root: the package defines DataSourceRef
    // twice (common and dashboard), which named definitions would collide on.
    expose: 'none',
    topRef: true,
    jsDoc: 'none',
  });
  const schema = generator.createSchema('Dashboard');
  schema.$comment = `Generated from the Dashboard type of @grafana/schema ${schemaVersion} by ts-json-schema-generator ${generatorVersion}.`;
  mkdirSync(cacheDir, { recursive: true });
  writeFileSync(cache, JSON.stringify(schema));
  return schema;
}

function pointer(path) {
  return '/' + path.map((p) => String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
}

// Collapses ajv's anyOf noise: for a panel that fits neither Panel nor
// RowPanel, report the errors of the branch its `type` selects.
function ajvErrors(errors, doc) {
  const out = [];
  const seen = new Set();
  for (const e of errors) {
    const key = `${e.instancePath}: ${e.message}${e.params?.additionalProperty ? ` (${e.params.additionalProperty})` : ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(e);
  }
  // A panel element: /panels/N or /panels/N/panels/M.
  const panelBranch = (path) => {
    const m = path.match(/^(\/panels\/\d+(?:\/panels\/\d+)?)/);
    if (!m) return null;
    const target = m[1].split('/').slice(1).reduce((o, k) => (o == null ? o : o[k]), doc);
    const isRow = target && typeof target === 'object' && target.type === 'row';
    return { prefix: m[1], isRow };
  };
  return out.filter((e) => {
    const b = panelBranch(e.instancePath);
    if (!b) return true;
    // The union's own "must match a schema in anyOf": the branch errors say why.
    if (e.keyword === 'anyOf' && e.instancePath === b.prefix) return false;
    // schema paths of the union: .../anyOf/0 is Panel, .../anyOf/1 RowPanel.
    const m = e.schemaPath.match(/\/panels\/items\/anyOf\/(\d)/g);
    if (!m) return true;
    const branch = m[m.length - 1].endsWith('1') ? 'row' : 'panel';
    return (branch === 'row') === b.isRow;
  });
}

function datasourceErrors(file, doc) {
  const errors = [];
  const err = (path, message) => errors.push(`${file}: ${pointer(path)}: ${message}`);
  const checkRef = (ref, path, { allowBuiltin = false } = {}) => {
    if (ref == null) {
      err(path, 'missing datasource');
      return null;
    }
    if (typeof ref !== 'object') {
      err(path, `datasource must be an object {type, uid}, got ${JSON.stringify(ref)}`);
      return null;
    }
    if (allowBuiltin && ref.uid === GRAFANA_BUILTIN && ref.type === 'grafana') return ref.uid;
    if (!(ref.uid in DATASOURCES)) {
      err([...path, 'uid'], `datasource uid ${JSON.stringify(ref.uid)} is not one of ${Object.keys(DATASOURCES).join(', ')}`);
      return null;
    }
    if (ref.type !== DATASOURCES[ref.uid]) {
      err([...path, 'type'], `datasource ${ref.uid} must have type ${DATASOURCES[ref.uid]}, got ${JSON.stringify(ref.type)}`);
    }
    return ref.uid;
  };
  const checkSql = (query, path) => {
    if (query?.editorType !== 'sql') err([...path, 'editorType'], 'ClickHouse query must use the SQL editor (editorType "sql")');
    if (typeof query?.rawSql !== 'string' || query.rawSql.trim() === '') err([...path, 'rawSql'], 'ClickHouse query without rawSql');
    if (query && 'format' in query && query.format !== 0 && query.format !== 1) {
      err([...path, 'format'], `format must be 0 (time series) or 1 (table), got ${JSON.stringify(query.format)}`);
    }
  };

  const panelsOf = (list, path) => (Array.isArray(list) ? list.flatMap((p, i) => [[p, [...path, i]], ...(p?.type === 'row' ? panelsOf(p.panels, [...path, i, 'panels']) : [])]) : []);
  const panels = panelsOf(doc.panels, ['panels']);

  const ids = new Map();
  const titles = new Map();
  for (const [p, path] of panels) {
    if (!p || typeof p !== 'object') continue;
    if (ids.has(p.id)) err([...path, 'id'], `panel id ${p.id} already used by ${pointer(ids.get(p.id))}`);
    else ids.set(p.id, path);
    // Titles name the queries that queries.mjs lists: keep them unique.
    if (p.type !== 'row' && typeof p.title === 'string') {
      if (titles.has(p.title)) err([...path, 'title'], `panel title ${JSON.stringify(p.title)} already used by ${pointer(titles.get(p.title))}`);
      else titles.set(p.title, path);
    }
    if (p.type === 'row' || p.type === 'text') continue;
    const uid = checkRef(p.datasource, [...path, 'datasource']);
    const targets = Array.isArray(p.targets) ? p.targets : [];
    if (targets.length === 0) err([...path, 'targets'], 'panel has no query');
    targets.forEach((t, i) => {
      const tpath = [...path, 'targets', i];
      const tuid = t?.datasource === undefined ? uid : checkRef(t.datasource, [...tpath, 'datasource']);
      if (uid && tuid && tuid !== uid) err([...tpath, 'datasource'], `target datasource ${tuid} differs from its panel's ${uid}`);
      if (tuid === 'voxprobe-clickhouse') checkSql(t, tpath);
      if (tuid === 'voxprobe-prometheus' && (typeof t?.expr !== 'string' || t.expr.trim() === '')) err([...tpath, 'expr'], 'Prometheus target without expr');
    });
  }

  // Layout of the top-level grid (rows' children share it when expanded).
  const boxes = [];
  for (const [p, path] of panels) {
    const g = p?.gridPos;
    if (!g || typeof g !== 'object') continue;
    const { x, y, w, h } = g;
    if (![x, y, w, h].every(Number.isInteger)) {
      err([...path, 'gridPos'], 'gridPos x, y, w, h must be integers');
      continue;
    }
    if (w < 1 || w > 24 || h < 1 || x < 0 || y < 0 || x + w > 24) {
      err([...path, 'gridPos'], `gridPos out of the 24-column grid: ${JSON.stringify(g)}`);
      continue;
    }
    for (const [q, qpath] of boxes) {
      if (x < q.x + q.w && q.x < x + w && y < q.y + q.h && q.y < y + h) {
        err([...path, 'gridPos'], `gridPos ${JSON.stringify(g)} overlaps ${pointer(qpath)}`);
      }
    }
    boxes.push([g, path]);
  }

  (doc.templating?.list ?? []).forEach((v, i) => {
    const path = ['templating', 'list', i];
    if (v?.type !== 'query') return;
    const uid = checkRef(v.datasource, [...path, 'datasource']);
    if (uid === 'voxprobe-clickhouse') checkSql(v.query, [...path, 'query']);
  });
  (doc.annotations?.list ?? []).forEach((a, i) => {
    checkRef(a?.datasource, ['annotations', 'list', i, 'datasource'], { allowBuiltin: true });
  });
  return errors;
}

const files = process.argv.length > 2
  ? process.argv.slice(2).map((f) => resolve(f))
  : readdirSync(join(project, 'grafana/dashboards')).filter((f) => f.endsWith('.json')).sort().map((f) => join(project, 'grafana/dashboards', f));
if (files.length === 0) fail('validate.mjs: no dashboards to check');

const Ajv = require('ajv');
const ajv = new Ajv({ strict: false, allErrors: true });
const validate = ajv.compile(await dashboardSchema());

const errors = [];
const uids = new Map();
let panelsChecked = 0;
for (const path of files) {
  const file = process.argv.length > 2 ? path : `grafana/dashboards/${basename(path)}`;
  let doc;
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    errors.push(`${file}: /: not JSON: ${e.message}`);
    continue;
  }
  if (!validate(doc)) {
    for (const e of ajvErrors(validate.errors, doc)) {
      const extra = e.params?.additionalProperty ? ` (${e.params.additionalProperty})` : e.params?.allowedValues ? ` (${e.params.allowedValues.join(', ')})` : '';
      errors.push(`${file}: ${e.instancePath || '/'}: ${e.message}${extra}`);
    }
  }
  if (doc && typeof doc === 'object' && !Array.isArray(doc)) {
    if (typeof doc.uid !== 'string' || doc.uid === '') errors.push(`${file}: /uid: dashboard needs a stable uid`);
    else if (uids.has(doc.uid)) errors.push(`${file}: /uid: uid ${doc.uid} already used by ${uids.get(doc.uid)}`);
    else uids.set(doc.uid, file);
    errors.push(...datasourceErrors(file, doc));
    if (Array.isArray(doc.panels)) panelsChecked += doc.panels.length;
  }
}

if (errors.length > 0) {
  for (const e of errors) console.error(e);
  console.error(`${errors.length} error(s) in ${files.length} dashboard(s)`);
  process.exit(1);
}
console.log(`ok: ${files.length} dashboard(s), ${panelsChecked} panel(s) valid against @grafana/schema ${packageVersion('@grafana/schema')} Dashboard`);
