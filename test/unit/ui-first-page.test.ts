// The server-rendered repository list (src/http/ui/first-page.ts): every
// string from the registry or the configuration is written as text, and the
// JSON data block cannot end its <script> element early — whatever the
// strings hold (repository names cannot hold `<`, but nothing here relies on it).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { esc, fillTemplate, jsonForScript, pageNamespace, renderList } from '../../src/http/ui/first-page.js';

const EVIL = `</script><img src=x onerror="alert(1)">'&<!--`;

const info = (upstream: string) => ({
  current: 'default',
  session: { authEnabled: true, user: null, anonymousRead: true, deleteEnabled: true, service: 'wharf' },
  namespaces: [{ name: 'default', default: true, hosts: [], mirror: { upstream }, usage: null, computing: false }],
});
const page = (names: string[]) => ({
  namespace: 'default',
  repositories: names.map((name) => ({ name, usage: { unique: 1234, shared: 5, blobs: 2 } })),
  usage: null,
  computing: true,
});

const TEMPLATE =
  '<!doctype html><html><head><script>boot()</script><link rel="icon" href="/ui/favicon.svg?h=1"></head>' +
  '<body><div id="app"><p class="boot">Wharf is loading…</p><noscript>x</noscript></div></body></html>';

describe('first page: rendering', () => {
  it('escapes text and attribute values', () => {
    assert.equal(esc(EVIL), '&lt;/script&gt;&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&#39;&amp;&lt;!--');
  });

  it('a data block holds no `<`, `>` or `&`, and parses back to the same value', () => {
    const text = jsonForScript({ name: EVIL, line: '\u2028' });
    assert.doesNotMatch(text, /[<>&\u2028]/);
    assert.deepEqual(JSON.parse(text), { name: EVIL, line: '\u2028' });
  });

  it('no string becomes markup: names, the mirror upstream', () => {
    const html = renderList('default', info(EVIL), page([EVIL, 'team/app']), '/ui/favicon.svg');
    assert.ok(!html.includes('<img src=x'), html);
    assert.ok(!html.includes('</script>'), html);
    assert.ok(html.includes(esc(EVIL)));
    assert.match(html, /<a href="#\/default\/team\/app">team\/app<\/a>/);
    assert.match(html, /<data value="1234">1.23 kB<\/data>/);
    assert.match(html, /Storage use is being computed\./);
  });

  it('fills the template: the data block before the boot script, the rows in place of the loading line', () => {
    const icon = '<svg class="icon" aria-hidden="true"><rect width="1" height="1"/></svg>';
    const html = fillTemplate(TEMPLATE, { ns: 'default', info: info('https://up.example'), page: page(['a/b']) }, icon);
    const block = html.indexOf('<script type="application/json" id="wharf-first">');
    assert.ok(block >= 0 && block < html.indexOf('<script>boot()'));
    assert.ok(!html.includes('Wharf is loading'));
    assert.match(html, /<noscript>x<\/noscript>/);
    // The header's icon inline, no image to load and decode before the first frame.
    assert.ok(html.includes(`<a class="brand" href="#/"><span class="brand-icon">${icon}</span>`), html);
    assert.doesNotMatch(html, /<img/);
    // The first row's cell and the page's last element report their paint (Element Timing).
    assert.match(html, /<tr><td elementtiming="wharf-first-row"><a href="#\/default\/a\/b">a\/b<\/a><\/td>/);
    assert.match(
      html,
      /<span elementtiming="wharf-first-painted">Page 1<\/span><button type="button" disabled>Next page<\/button><\/nav><\/main>/,
    );
    assert.equal(fillTemplate(TEMPLATE, null), TEMPLATE);
  });

  it('/ui/r/<ns> names one namespace', () => {
    assert.equal(pageNamespace('/ui/r/default'), 'default');
    assert.equal(pageNamespace('/ui/r/docker.io/'), 'docker.io');
    assert.equal(pageNamespace('/ui/r/'), null);
    assert.equal(pageNamespace('/ui/r/a/b'), null);
    assert.equal(pageNamespace('/ui/app.js'), null);
    assert.equal(pageNamespace('/ui/r/%E0%A4%A'), null);
  });
});
