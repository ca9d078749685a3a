// The statistics dashboard: draws each table of the page as a chart with
// the vendored Chart.js. It reads the figures from the page's own tables
// (data-label, data-n), which stay for screen readers and without
// scripts; labels are painted on a canvas, never inserted as HTML.
(function () {
  'use strict';
  if (typeof window.Chart === 'undefined') {
    return;
  }
  var Chart = window.Chart;
  Chart.defaults.animation = false;
  Chart.defaults.font.family = 'system-ui, sans-serif';
  Chart.defaults.color = '#1d2330';
  var palette = ['#24324a', '#4a6fa5', '#7aa5d6', '#c0d5ee', '#b5651d', '#e0a060', '#2a7', '#8c6bb1', '#c33', '#999'];

  function rows(table) {
    var labels = [];
    var values = [];
    table.querySelectorAll('tbody tr[data-label]').forEach(function (tr) {
      var n = parseInt(tr.getAttribute('data-n'), 10);
      labels.push(tr.getAttribute('data-label'));
      values.push(isNaN(n) ? null : n);
    });
    return { labels: labels, values: values };
  }

  document.querySelectorAll('table[data-chart]').forEach(function (table) {
    var data = rows(table);
    var box = document.querySelector('.chart[data-for="' + table.id + '"]');
    if (!box || data.labels.length === 0) {
      return;
    }
    var kind = table.getAttribute('data-chart');
    var horizontal = kind === 'bar';
    if (kind === 'column') {
      kind = 'bar';
    }
    var canvas = document.createElement('canvas');
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', table.getAttribute('data-title') + ' (the table below has the figures)');
    box.appendChild(canvas);
    box.classList.add('drawn');
    new Chart(canvas, {
      type: kind,
      data: {
        labels: data.labels,
        datasets: [{
          label: table.getAttribute('data-title'),
          data: data.values,
          backgroundColor: kind === 'doughnut' ? palette : '#4a6fa5',
          borderColor: '#24324a',
          borderWidth: kind === "line" ? 2 : 0,
          pointRadius: kind === "line" ? 2 : 0,
          spanGaps: false
        }]
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        indexAxis: horizontal ? 'y' : 'x',
        plugins: { legend: { display: kind === 'doughnut', position: 'right' } },
        scales: kind === 'doughnut' ? {} : { x: { beginAtZero: true, ticks: { precision: 0 } }, y: { beginAtZero: true, ticks: { precision: 0 } } }
      }
    });
  });
}());
