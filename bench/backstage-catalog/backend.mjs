#!/usr/bin/env node
// A minimal Backstage backend: the catalog plugin alone, ingesting an
// organisation's descriptor files from disk into PostgreSQL, so that
// `sextant bench` can time it against sextant's crawl on the same files.
// See README.md in this folder.
//
// Configuration comes from environment variables (all required unless a
// default is given), turned into the backend's root config:
//
//   BACKSTAGE_BENCH_PORT        HTTP port, on 127.0.0.1
//   BACKSTAGE_BENCH_PG_HOST     PostgreSQL host, or the folder holding its Unix socket
//   BACKSTAGE_BENCH_PG_PORT     PostgreSQL port (for a socket folder: names `.s.PGSQL.<port>`)
//   BACKSTAGE_BENCH_PG_USER     PostgreSQL user (default `postgres`)
//   BACKSTAGE_BENCH_PG_PASSWORD PostgreSQL password (default: none)
//   BACKSTAGE_BENCH_DATABASE    the catalog's database (default `backstage_plugin_catalog`,
//                               Backstage's own name); created when missing
//   BACKSTAGE_BENCH_TARGET      the one `file` location's target: a file or a glob, e.g.
//                               `/data/org/*/catalog-info.yaml` (absolute path)
//
// Everything else is Backstage's default, in particular the processing
// schedule (every entity is reprocessed every 100 to 150 s).

import { createBackend } from '@backstage/backend-defaults';
import { coreServices, createServiceFactory } from '@backstage/backend-plugin-api';
import { ConfigReader } from '@backstage/config';

function env(name, fallback) {
  const value = process.env[name];
  if (value !== undefined && value !== '') return value;
  if (fallback !== undefined) return fallback;
  console.error(`backend.mjs: the environment variable ${name} is required (see README.md)`);
  process.exit(2);
}

function port(name) {
  const text = env(name);
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    console.error(`backend.mjs: ${name} must be a port number, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return value;
}

const httpPort = port('BACKSTAGE_BENCH_PORT');
const connection = {
  host: env('BACKSTAGE_BENCH_PG_HOST'),
  port: port('BACKSTAGE_BENCH_PG_PORT'),
  user: env('BACKSTAGE_BENCH_PG_USER', 'postgres'),
};
const password = process.env.BACKSTAGE_BENCH_PG_PASSWORD;
if (password) connection.password = password;

const config = {
  backend: {
    baseUrl: `http://127.0.0.1:${httpPort}`,
    listen: { host: '127.0.0.1', port: httpPort },
    database: {
      client: 'pg',
      connection,
      plugin: { catalog: { connection: { database: env('BACKSTAGE_BENCH_DATABASE', 'backstage_plugin_catalog') } } },
    },
    // The REST API answers without a token (no auth plugin is installed).
    auth: { dangerouslyDisableDefaultAuthPolicy: true },
  },
  catalog: {
    rules: [{ allow: ['Component', 'API', 'Resource', 'System', 'Group', 'User', 'Location', 'Domain'] }],
    locations: [{ type: 'file', target: env('BACKSTAGE_BENCH_TARGET') }],
  },
};

const backend = createBackend();
backend.add(
  createServiceFactory({
    service: coreServices.rootConfig,
    deps: {},
    factory: () => new ConfigReader(config, 'backstage-bench'),
  }),
);
backend.add(import('@backstage/plugin-catalog-backend'));
await backend.start();
console.log(`backend.mjs: catalog backend listening on http://127.0.0.1:${httpPort}`);
