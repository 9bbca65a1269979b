// The home page's charts (Chart.js, vendored): each bar opens the list behind it.
(function () {
  const source = document.getElementById("dashboard-data");
  if (!source || !window.Chart) return;
  const data = JSON.parse(source.textContent);
  const reduceMotion = window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  function draw(id, chart) {
    const canvas = document.getElementById(id);
    if (!canvas || !chart.labels.length) {
      if (canvas) canvas.closest(".canvas-box").hidden = true;
      return;
    }
    const series = chart.series;
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: chart.labels,
        datasets: series.map((s) => ({
          label: s.label,
          data: s.data,
          backgroundColor: s.colors || s.color,
        })),
      },
      options: {
        animation: reduceMotion ? false : undefined,
        maintainAspectRatio: false,
        indexAxis: chart.horizontal || id === "chart-groups" ? "y" : "x",
        plugins: {legend: {display: series.length > 1, position: "bottom"}},
        scales: {
          x: {stacked: !!chart.stacked || series.length > 1, beginAtZero: true, ticks: {precision: 0}},
          y: {stacked: !!chart.stacked || series.length > 1, beginAtZero: true, ticks: {precision: 0}},
        },
        onHover: (event, elements) => {
          event.native.target.style.cursor = elements.length ? "pointer" : "default";
        },
        onClick: (event, elements) => {
          if (!elements.length) return;
          const {datasetIndex, index} = elements[0];
          const link = series[datasetIndex].links && series[datasetIndex].links[index];
          if (link) window.location.href = link;
        },
      },
    });
  }

  draw("chart-groups", data.groups);
  draw("chart-versions", data.versions);
  draw("chart-days", data.days);
  draw("chart-refusals", data.refusals);
})();
