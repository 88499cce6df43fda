// Runs inside the page (added with page.addInitScript by test/browser/webview-page.ts): readers for
// what the webview drew, through the Chart.js instances webview-ui/src/main.ts exposes as
// window.prunescopeCharts. Plain browser JavaScript: the repository's TypeScript has no DOM typings.
'use strict';
window.__probe = (() => {
  function charts() {
    if (typeof window.prunescopeCharts !== 'function')
      throw new Error('window.prunescopeCharts is missing: the webview bundle is not the one under test');
    return window.prunescopeCharts();
  }

  function chart(name) {
    const c = charts().find((x) => x.name === name);
    if (!c)
      throw new Error(
        `no chart named ${JSON.stringify(name)} (charts: ${charts()
          .map((x) => x.name)
          .join(' | ')})`,
      );
    return c.chart;
  }

  function overlapping(boxes) {
    let n = 0;
    boxes.forEach((a, i) =>
      boxes.forEach((b, j) => {
        if (i < j && a.left < b.left + b.width && b.left < a.left + a.width && a.top < b.top + b.height && b.top < a.top + a.height) n++;
      }),
    );
    return n;
  }

  function chartInfos() {
    return charts().map(({ name, chart: c }) => {
      const legendShown = c.legend && c.legend.options && c.legend.options.display !== false;
      const boxes = legendShown ? c.legend.legendHitBoxes || [] : [];
      const title = (axis) =>
        c.options.scales && c.options.scales[axis] && c.options.scales[axis].title ? c.options.scales[axis].title.text : undefined;
      const area = c.chartArea;
      return {
        name,
        type: c.config.type,
        legend: legendShown ? (c.legend.legendItems || []).map((i) => i.text) : [],
        xTitle: title('x'),
        yTitle: title('y'),
        datasets: c.data.datasets.length,
        elements: c.getDatasetMeta(0).data.length,
        width: c.width,
        height: c.height,
        chartArea: area ? { width: area.right - area.left, height: area.bottom - area.top } : null,
        legendOverlaps: overlapping(boxes),
        // Legend boxes outside the canvas would be cut off.
        legendOutside: boxes.filter((b) => b.left < 0 || b.top < 0 || b.left + b.width > c.width + 1 || b.top + b.height > c.height + 1)
          .length,
        xTicks: (c.scales.x && c.scales.x.ticks ? c.scales.x.ticks : []).length,
        yTicks: (c.scales.y && c.scales.y.ticks ? c.scales.y.ticks : []).length,
        yScale: c.scales.y ? c.scales.y.type : undefined,
        yTickLabels: c.scales.y && c.scales.y.ticks ? c.scales.y.ticks.map((t) => t.label).filter((l) => l !== '' && l !== undefined) : [],
        // Line colour and dash of each dataset: what tells series apart.
        styles: c.data.datasets.map((d) => `${String(d.borderColor)} ${JSON.stringify(d.borderDash || [])}`),
      };
    });
  }

  function hexRgb(c) {
    return [Number.parseInt(c.slice(1, 3), 16), Number.parseInt(c.slice(3, 5), 16), Number.parseInt(c.slice(5, 7), 16)];
  }

  /** Every pixel of a canvas: how many differ from the top-left one, and counts of exact colours. */
  function canvasPixels(canvas, colours) {
    const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    const want = (colours || []).map(hexRgb);
    const counts = Object.fromEntries((colours || []).map((c) => [c, 0]));
    let painted = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (d[i] !== d[0] || d[i + 1] !== d[1] || d[i + 2] !== d[2] || d[i + 3] !== d[3]) painted++;
      for (let k = 0; k < want.length; k++) {
        const c = want[k];
        if (d[i] === c[0] && d[i + 1] === c[1] && d[i + 2] === c[2] && d[i + 3] === 255) counts[colours[k]]++;
      }
    }
    return { width: canvas.width, height: canvas.height, painted, background: [d[0], d[1], d[2], d[3]], counts };
  }

  function chartPixels(name, colours) {
    return canvasPixels(chart(name).canvas, colours);
  }

  function selectorPixels(selector, colours) {
    const canvas = document.querySelector(selector);
    if (!canvas) throw new Error(`no canvas matches ${selector}`);
    return canvasPixels(canvas, colours);
  }

  /** Page coordinates of element `index` of dataset `dataset` (a heatmap cell's centre), scrolled into view. */
  function elementPoint(name, dataset, index) {
    const c = chart(name);
    const el = c.getDatasetMeta(dataset).data[index];
    if (!el) throw new Error(`chart ${name} has no element ${index} in dataset ${dataset}`);
    c.canvas.scrollIntoView({ block: 'center' });
    const rect = c.canvas.getBoundingClientRect();
    // Matrix cells are placed by their top-left corner.
    const matrix = c.config.type === 'matrix';
    return { x: rect.left + el.x + (matrix ? el.width / 2 : 0), y: rect.top + el.y + (matrix ? el.height / 2 : 0) };
  }

  /** The tooltip's lines while it shows, else null. */
  function tooltip(name) {
    const t = chart(name).tooltip;
    if (!t || t.opacity === 0 || !t.body || t.body.length === 0) return null;
    return [...(t.title || []), ...t.body.flatMap((b) => b.lines)];
  }

  return { chartInfos, chartPixels, selectorPixels, elementPoint, tooltip };
})();
