// Search results show a snippet of each page's text, read from the page's HTML, where the
// formulas are still TeX (MathJax typesets only the page being read). This turns each
// formula of a snippet into plain text: \(W_{hh} h_{t-1}\) becomes "W_hh h_t-1".
(function () {
  const SYMBOLS = {
    alpha: "α", beta: "β", gamma: "γ", delta: "δ", epsilon: "ε", eta: "η", theta: "θ",
    lambda: "λ", mu: "μ", pi: "π", rho: "ρ", sigma: "σ", tau: "τ", phi: "φ", psi: "ψ",
    omega: "ω", Delta: "Δ", Sigma: "Σ", odot: "⊙", cdot: "·", times: "×", top: "ᵀ",
    partial: "∂", sum: "Σ", prod: "Π", infty: "∞", le: "≤", ge: "≥", approx: "≈",
    ne: "≠", to: "→", dots: "…", ldots: "…", cdots: "⋯", mid: "|", quad: " ", qquad: " ",
  };
  function plain(tex) {
    return tex
      .replace(/^\s*(\\\(|\\\[|\$\$?)|(\\\)|\\\]|\$\$?)\s*$/g, "")
      .replace(/\\(?:left|right|big|Big|bigg|Bigg)\b/g, "")
      .replace(/\\(?:frac)\{([^{}]*)\}\{([^{}]*)\}/g, "$1/$2")
      .replace(/\\([a-zA-Z]+)/g, (m, name) => SYMBOLS[name] ?? name)
      .replace(/\\[,;:! ]/g, " ")
      .replace(/[{}]/g, "")
      .replace(/\s+/g, " ")
      .trim();
  }
  function install() {
    if (typeof Search === "undefined" || !Search.htmlToText || Search.rnnbookMath) return;
    const original = Search.htmlToText;
    Search.htmlToText = (htmlString, anchor) => {
      const doc = new DOMParser().parseFromString(htmlString, "text/html");
      doc.querySelectorAll(".math").forEach((m) => {
        m.textContent = plain(m.textContent);
      });
      return original(doc.documentElement.outerHTML, anchor);
    };
    Search.rnnbookMath = true;
  }
  install();
  document.addEventListener("DOMContentLoaded", install);
})();
