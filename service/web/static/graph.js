// Draws an indicator's graph neighbourhood with the vendored cytoscape (no network beyond this site).
document.addEventListener("DOMContentLoaded", async () => {
  const box = document.getElementById("graph");
  if (!box || typeof cytoscape === "undefined") return;
  const answer = await fetch(box.dataset.src, { credentials: "same-origin" });
  if (!answer.ok) { box.textContent = "关系图暂不可用"; return; }
  const data = await answer.json();
  const colours = { Indicator: "#1d4ed8", LegalBasis: "#b45309", Category: "#047857", Department: "#7c3aed", Sector: "#be185d" };
  cytoscape({
    container: box,
    elements: data.elements,
    layout: { name: "concentric", concentric: (n) => (n.data("root") ? 2 : 1), levelWidth: () => 1, minNodeSpacing: 24 },
    style: [
      { selector: "node", style: { "background-color": (n) => colours[n.data("kind")] || "#475569", label: "data(label)",
        "font-size": 10, "text-wrap": "ellipsis", "text-max-width": 120, color: "#1f2937", "font-family": "Noto Sans CJK SC, sans-serif",
        "text-valign": "bottom", "text-margin-y": 4 } },
      { selector: "node[?root]", style: { width: 34, height: 34, "font-weight": "bold" } },
      { selector: "edge", style: { width: 1.2, "line-color": "#94a3b8", "target-arrow-shape": "triangle",
        "target-arrow-color": "#94a3b8", "curve-style": "bezier", label: "data(label)", "font-size": 7, color: "#64748b",
        "text-background-color": "#ffffff", "text-background-opacity": 0.85, "text-background-padding": 1 } },
    ],
  });
});
