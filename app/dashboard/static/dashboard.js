// Live updates for a job page: the page works without this; it only keeps status and timeline fresh.
(function () {
  "use strict";
  var root = document.getElementById("job");
  if (!root || !window.EventSource) return;
  var status = root.querySelector("[data-testid=job-status]");
  var timeline = root.querySelector("[data-testid=phase-timeline]");
  var source = new EventSource(root.getAttribute("data-events"));

  function text(tag, value, cls) {
    var el = document.createElement(tag);
    el.textContent = value;
    if (cls) el.className = cls;
    return el;
  }

  source.addEventListener("job", function (event) {
    var job = JSON.parse(event.data);
    status.textContent = job.status_text;
    status.className = "status-" + job.status;
    timeline.replaceChildren.apply(timeline, job.phases.map(function (p) {
      var li = document.createElement("li");
      li.setAttribute("data-phase", p.name);
      li.setAttribute("data-status", p.status);
      li.append(text("b", p.name), " ", text("span", p.status, "st"));
      if (p.outcome) li.append(" ", text("code", p.outcome));
      if (p.seconds !== null) li.append(" ", text("span", p.seconds + " s", "secs"));
      return li;
    }));
    if (job.status !== "running") source.close();
  });
})();
