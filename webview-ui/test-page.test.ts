import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sampleAnalysis } from './src/sample-results';
import { testPageHtml } from './test-page';

test('test page: embeds the message so no string can close its script element', () => {
  const results = sampleAnalysis();
  results.model.path = '/x/</script><script>alert(1)</script>.onnx';
  const html = testPageHtml({ view: 'results', message: { type: 'showResults', title: 't', results, metrics: [] } });
  assert.equal((html.match(/<\/script>/g) ?? []).length, 3);
  const json = /<script id="prunescope-message" type="application\/json">(.*?)<\/script>/s.exec(html)?.[1];
  assert.ok(json);
  const message = JSON.parse(json) as { results: { model: { path: string } } };
  assert.equal(message.results.model.path, results.model.path);
  assert.match(html, /window\.acquireVsCodeApi = /);
  assert.match(html, /data-view="results"/);
  assert.match(html, /dist\/webview\.js/);
});
