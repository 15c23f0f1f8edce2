// The API's OpenAPI document (docs/openapi.yaml), and a check of a response against it: the
// harness's client runs it on every response a test receives, so a body, status or header the
// document does not describe fails the test that saw it.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import YAML from 'yaml';

const SRC = process.env.PV_SOURCE_DIR ?? path.resolve('.');
export const DOC_PATH = path.join(SRC, 'docs/openapi.yaml');
export const doc = YAML.parse(readFileSync(DOC_PATH, 'utf8'));

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema(doc, 'openapi');
const validators = new Map();

const esc = (s) => s.replaceAll('~', '~0').replaceAll('/', '~1');

function at(pointer) {
  return pointer.split('/').slice(1).reduce((o, k) => o?.[k.replaceAll('~1', '/').replaceAll('~0', '~')], doc);
}

// Follow $refs of non-schema objects (responses, headers), keeping the JSON pointer.
function deref(obj, pointer) {
  while (obj && obj.$ref) {
    pointer = obj.$ref.slice(1);
    obj = at(pointer);
  }
  return [obj, pointer];
}

function validate(pointer, value) {
  let v = validators.get(pointer);
  if (!v) {
    v = ajv.compile({ $ref: `openapi#${pointer}` });
    validators.set(pointer, v);
  }
  if (v(value)) return [];
  return v.errors.map((e) => `${e.instancePath || '(body)'} ${e.message}${e.params?.additionalProperty ? ` '${e.params.additionalProperty}'` : ''}`);
}

// The path template of the document that a request path matches (literal segments first).
export function findTemplate(urlPath) {
  const segs = new URL(urlPath, 'http://x').pathname.replace(/\/$/, '').split('/');
  let best = null, bestLiterals = -1;
  for (const t of Object.keys(doc.paths)) {
    const ts = t.split('/');
    if (ts.length !== segs.length) continue;
    let literals = 0, ok = true;
    for (let i = 0; i < ts.length && ok; i++) {
      if (/^\{.+\}$/.test(ts[i])) ok = segs[i] !== '';
      else if (ts[i] === segs[i]) literals++;
      else ok = false;
    }
    if (ok && literals > bestLiterals) [best, bestLiterals] = [t, literals];
  }
  return best;
}

// Everything wrong with response res ({status, headers, text, json}) to method urlPath.
export function responseErrors(method, urlPath, res) {
  const template = findTemplate(urlPath);
  const op = template && doc.paths[template][method.toLowerCase()];
  const where = `${method} ${template ?? urlPath} -> ${res.status}`;
  let resp, pointer;
  if (!op) {
    // An unknown route or method can only be a problem.
    if (res.status < 400) return [`${where}: not in docs/openapi.yaml`];
    [resp, pointer] = deref(doc.components.responses.Problem, '/components/responses/Problem');
  } else {
    const base = `/paths/${esc(template)}/${method.toLowerCase()}/responses`;
    const key = [String(res.status), `${String(res.status)[0]}XX`, 'default'].find((k) => op.responses[k]);
    if (!key) return [`${where}: status not documented`];
    [resp, pointer] = deref(op.responses[key], `${base}/${esc(key)}`);
    if (res.status < 400 && key === 'default') return [`${where}: success status not documented`];
  }
  const errors = [];
  for (const [name, h] of Object.entries(resp.headers ?? {})) {
    const [hdr] = deref(h, '');
    if (hdr.required && res.headers[name.toLowerCase()] === undefined) errors.push(`${where}: header ${name} missing`);
  }
  const ctype = (res.headers['content-type'] ?? '').split(';')[0].trim();
  if (!resp.content) {
    if (res.text !== '') errors.push(`${where}: a body where the document has none`);
    return errors;
  }
  const media = resp.content[ctype];
  if (!media) return [...errors, `${where}: content type '${ctype}' not documented`];
  if (!media.schema) return errors;
  let body = res.text;
  if (ctype.endsWith('json')) {
    if (res.json === undefined) return [...errors, `${where}: body is not JSON`];
    body = res.json;
  }
  return [...errors, ...validate(`${pointer}/content/${esc(ctype)}/schema`, body).map((e) => `${where}: ${e}`)];
}
