// docs/requirements.md names, for each requirement, the tests that prove it. A test renamed or
// removed would leave the document citing what no longer exists: every citation must name a test
// that is in its file, and the status table must agree with the sections and the counts line.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { SRC } from './lib/harness.js';

const DOC = readFileSync(`${SRC}/docs/requirements.md`, 'utf8');
const unquote = (s) => s.replace(/\\"/g, '"');

// The names of a file's tests, as written: a quoted string, or a template whose ${...} parts
// (a policy's name, a number of rounds) match any text.
function testNames(src) {
  const names = [];
  for (const m of src.matchAll(/\btest\(\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|`((?:[^`\\]|\\.)*)`)/g)) {
    if (m[3] !== undefined) {
      const re = m[3].split(/\$\{[^}]*\}/).map((x) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.+');
      names.push(new RegExp(`^${re}$`));
    } else {
      const lit = (m[1] ?? m[2]).replace(/\\(.)/g, '$1');
      names.push({ test: (x) => x === lit });
    }
  }
  return names;
}

test('every test the document cites is in its file', () => {
  const missing = [];
  let n = 0;
  for (const m of DOC.matchAll(/`(tests\/[\w/.-]+\.test\.js)` › "((?:[^"\\]|\\.)*)"/g)) {
    const [, file, name] = m;
    if (/\/x\.test\.js$/.test(file)) continue; // the document's own example of the notation
    n++;
    const path = `${SRC}/${file}`;
    if (!existsSync(path) || !testNames(readFileSync(path, 'utf8')).some((t) => t.test(unquote(name)))) missing.push(`${file} › ${name}`);
  }
  for (const m of DOC.matchAll(/`(tests\/unit\/test_\w+\.c)` › `(\w+)`/g)) {
    const [, file, fn] = m;
    if (file === 'tests/unit/test_x.c') continue;
    n++;
    const path = `${SRC}/${file}`;
    if (!existsSync(path) || !new RegExp(`\\n${fn}\\(`).test(readFileSync(path, 'utf8'))) missing.push(`${file} › ${fn}`);
  }
  assert.ok(n > 200, `only ${n} citations found`);
  assert.deepEqual(missing, []);
});

test('the status table, the sections and the counts line agree', () => {
  const table = Object.fromEntries([...DOC.matchAll(/^\| ([A-H]\d+) \| [^|]+ \| (proven|partly|not yet) \|$/gm)]
    .map((m) => [m[1], m[2]]));
  assert.ok(Object.keys(table).length >= 40);
  const sections = Object.fromEntries([...DOC.matchAll(/^### ([A-H]\d+) [^\n]*\n(?:(?!^### )[\s\S])*?Status: \*\*(proven|partly|not yet)\*\*/gm)]
    .map((m) => [m[1], m[2]]));
  assert.deepEqual(sections, table);
  const count = (s) => Object.values(table).filter((x) => x === s).length;
  const line = /^Counts: (\d+) proven, (\d+) partly, (\d+) not yet\.$/m.exec(DOC);
  assert.ok(line, 'no counts line');
  assert.deepEqual(line.slice(1).map(Number), [count('proven'), count('partly'), count('not yet')]);
});

// Each seed service's scenario exercises every requirement its seed promises: the section of a
// requirement names its seeds, and must cite a test of each seed's scenario.
test('every requirement a seed promises is shown in that seed\'s scenario', () => {
  const scenario = { OMB: 'ombre', CON: 'connective-med', HEP: 'hep-pro', O7: 'o7-therapy', CMS: 'contour-medspa' };
  const missing = [];
  let seeded = 0;
  for (const m of DOC.matchAll(/^### ([A-H]\d+) [^\n]*\n([\s\S]*?)(?=^### |(?![\s\S]))/gm)) {
    const [, id, body] = m;
    const seeds = /Seeds: ([\s\S]*?)Status:/.exec(body);
    assert.ok(seeds, `${id} names no seeds`);
    const named = seeds[1].replace(/\([^)]*\)/g, '').match(/\b(OMB|CON|HEP|O7|CMS)\b/g) || [];
    if (named.length) seeded++;
    for (const s of new Set(named))
      if (!body.includes(`\`tests/scenarios/${scenario[s]}.test.js\` › "`)) missing.push(`${id} ${s}`);
  }
  assert.ok(seeded >= 40, `only ${seeded} requirements name a seed`);
  assert.deepEqual(missing, []);
});
