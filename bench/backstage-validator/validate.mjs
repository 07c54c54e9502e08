#!/usr/bin/env node
// Throughput benchmark of Backstage's own catalog validator, for comparison
// with sextant. See README.md in this folder.
//
// Usage: node validate.mjs [--all-yaml] [--repeat N] [--json]
//                          [--verdicts-out FILE] DIR [DIR...]
//
// For every file found, each pass does what the Backstage catalog does with a
// catalog-info.yaml: read it, split it into YAML documents with `yaml`'s
// parseAllDocuments, turn each document into JSON, run the entity policies
// and then the built-in kind validators of @backstage/catalog-model.

import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseAllDocuments } from 'yaml';
import {
  DefaultNamespaceEntityPolicy,
  EntityPolicies,
  FieldFormatEntityPolicy,
  NoForeignRootFieldsEntityPolicy,
  SchemaValidEntityPolicy,
  apiEntityV1alpha1Validator,
  componentEntityV1alpha1Validator,
  domainEntityV1alpha1Validator,
  groupEntityV1alpha1Validator,
  locationEntityV1alpha1Validator,
  resourceEntityV1alpha1Validator,
  systemEntityV1alpha1Validator,
  userEntityV1alpha1Validator,
} from '@backstage/catalog-model';

// `yaml` reports some oddities (e.g. templated `{{ x }}` keys) through
// process.emitWarning, as it does inside Backstage. Keep that cost, but do not
// print the warnings: drop Node's default 'warning' printer.
process.removeAllListeners('warning');

const SKIP_DIRS = new Set(['.git', 'node_modules', 'target']);
const CATALOG_NAMES = new Set(['catalog-info.yaml', 'catalog-info.yml']);

function usage(message) {
  if (message) console.error(`validate.mjs: ${message}`);
  console.error(
    'usage: node validate.mjs [--all-yaml] [--repeat N] [--json] [--verdicts-out FILE] DIR [DIR...]',
  );
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { allYaml: false, repeat: 1, json: false, verdictsOut: null, dirs: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--all-yaml') opts.allYaml = true;
    else if (a === '--json') opts.json = true;
    else if (a === '--repeat' || a === '--verdicts-out') {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      if (a === '--repeat') {
        opts.repeat = Number(v);
        if (!Number.isInteger(opts.repeat) || opts.repeat < 1) usage('--repeat needs a positive integer');
      } else {
        opts.verdictsOut = v;
      }
    } else if (a === '-h' || a === '--help') usage();
    else if (a.startsWith('--')) usage(`unknown option ${a}`);
    else opts.dirs.push(a);
  }
  if (opts.dirs.length === 0) usage('no directory given');
  return opts;
}

// Recursive walk, sorted so that every pass and every run sees the same order.
function walk(dir, allYaml, out) {
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    console.error(`validate.mjs: cannot read ${dir}: ${e.message}`);
    return out;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const ent of entries) {
    const p = path.join(dir, ent.name);
    if (ent.isDirectory()) {
      if (!SKIP_DIRS.has(ent.name)) walk(p, allYaml, out);
    } else if (ent.isFile()) {
      if (CATALOG_NAMES.has(ent.name) || (allYaml && /\.ya?ml$/i.test(ent.name))) {
        out.push(p);
      }
    }
  }
  return out;
}

// The default policy set of the catalog backend (CatalogBuilder.buildEntityPolicy),
// in the same order.
const policy = EntityPolicies.allOf([
  new SchemaValidEntityPolicy(),
  new DefaultNamespaceEntityPolicy(),
  new NoForeignRootFieldsEntityPolicy(),
  new FieldFormatEntityPolicy(),
]);

// The validators of BuiltinKindsEntityProcessor, in its order.
const kindValidators = [
  apiEntityV1alpha1Validator,
  componentEntityV1alpha1Validator,
  resourceEntityV1alpha1Validator,
  groupEntityV1alpha1Validator,
  locationEntityV1alpha1Validator,
  userEntityV1alpha1Validator,
  systemEntityV1alpha1Validator,
  domainEntityV1alpha1Validator,
];

function isPlainObject(v) {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

// Returns null when the document is accepted, otherwise the reason.
async function validateEntity(json) {
  let entity;
  try {
    entity = await policy.enforce(json);
  } catch (e) {
    return String(e?.message ?? e);
  }
  try {
    for (const v of kindValidators) {
      if (await v.check(entity)) return null;
    }
  } catch (e) {
    return String(e?.message ?? e);
  }
  return 'no kind validator recognized the entity (unknown kind/apiVersion)';
}

// One pass over all files. `record`, when given, collects per-document results.
async function pass(files, record) {
  let docs = 0;
  let valid = 0;
  let invalid = 0;
  let bytes = 0;
  for (const file of files) {
    const text = fs.readFileSync(file, 'utf8');
    bytes += text.length;
    let documents;
    try {
      documents = parseAllDocuments(text);
    } catch (e) {
      // parseAllDocuments is not supposed to throw; count the file as one bad document.
      docs++;
      invalid++;
      if (record) record.push({ file, doc: -1, valid: false, error: `yaml: ${e.message}` });
      continue;
    }
    // With an empty stream, yaml 2.x returns an EmptyStream (an empty array).
    for (let i = 0; i < documents.length; i++) {
      const d = documents[i];
      let error = null;
      let json;
      if (d.errors.length > 0) {
        error = `yaml: ${d.errors[0].message}`;
      } else {
        json = d.toJSON();
        if (json === null || json === undefined) continue; // empty document, e.g. trailing ---
        if (!isPlainObject(json)) error = `Expected object at root, got ${typeof json}`;
      }
      docs++;
      if (error === null) error = await validateEntity(json);
      if (error === null) valid++;
      else invalid++;
      if (record) {
        record.push({
          file,
          doc: i,
          valid: error === null,
          kind: isPlainObject(json) ? json.kind : undefined,
          error,
        });
      }
    }
  }
  return { docs, valid, invalid, bytes };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const fmt = (x, d = 1) => x.toFixed(d);

async function main() {
  const opts = parseArgs(process.argv.slice(2));

  const passes = [];
  let counts = null;
  for (let r = 0; r < opts.repeat; r++) {
    const t0 = performance.now();
    const files = [];
    for (const d of opts.dirs) walk(d, opts.allYaml, files);
    const t1 = performance.now();
    const record = r === 0 && opts.verdictsOut ? [] : null;
    const c = await pass(files, record);
    const t2 = performance.now();
    if (record) {
      fs.writeFileSync(opts.verdictsOut, record.map((x) => JSON.stringify(x)).join('\n') + '\n');
    }
    if (counts && (c.docs !== counts.docs || c.valid !== counts.valid)) {
      throw new Error('counts changed between passes');
    }
    counts = { files: files.length, ...c };
    const ms = t2 - t1;
    passes.push({ walkMs: t1 - t0, ms, filesPerSec: files.length / (ms / 1000) });
    if (!opts.json) {
      console.log(
        `pass ${r + 1}/${opts.repeat}: ${fmt(ms)} ms (walk ${fmt(t1 - t0)} ms), ` +
          `${fmt(files.length / (ms / 1000), 0)} files/s`,
      );
    }
  }

  const times = passes.map((p) => p.ms);
  const best = Math.min(...times);
  const med = median(times);
  const summary = {
    node: process.version,
    catalogModel: '1.10.1',
    dirs: opts.dirs,
    allYaml: opts.allYaml,
    files: counts.files,
    documents: counts.docs,
    valid: counts.valid,
    invalid: counts.invalid,
    chars: counts.bytes,
    repeat: opts.repeat,
    passMs: times.map((t) => Number(fmt(t, 2))),
    firstMs: Number(fmt(times[0], 2)),
    bestMs: Number(fmt(best, 2)),
    medianMs: Number(fmt(med, 2)),
    bestFilesPerSec: Math.round(counts.files / (best / 1000)),
    medianFilesPerSec: Math.round(counts.files / (med / 1000)),
    medianWalkMs: Number(fmt(median(passes.map((p) => p.walkMs)), 2)),
  };
  if (opts.json) {
    console.log(JSON.stringify(summary));
    return;
  }
  console.log(`node ${process.version}, @backstage/catalog-model 1.10.1`);
  console.log(
    `files ${counts.files}, documents ${counts.docs}, valid ${counts.valid}, invalid ${counts.invalid}` +
      ` (${counts.bytes} chars)`,
  );
  console.log(
    `time per pass (read + parse + validate, walk excluded): first ${fmt(times[0])} ms, ` +
      `best ${fmt(best)} ms, median ${fmt(med)} ms of ${opts.repeat}`,
  );
  console.log(
    `files/s: best ${summary.bestFilesPerSec}, median ${summary.medianFilesPerSec}` +
      ` (first pass ${Math.round(counts.files / (times[0] / 1000))})`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
