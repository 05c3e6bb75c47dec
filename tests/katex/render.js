// Renders LaTeX formulas with KaTeX (throwOnError) and, when installed, MathJax 3 (TeX input
// with the base and ams packages only, errors thrown). Reads a JSON list of formulas on stdin,
// writes a JSON list of {katex, mathjax} on stdout: null where the renderer accepted the
// formula, else its error message ("absent" when the renderer is not installed).
// Used by tests/test_katex.py; install with `npm install --prefix tests/katex`.
const katex = require("katex");

function mathjaxRenderer() {
  let mj;
  try {
    mj = {
      mathjax: require("mathjax-full/js/mathjax.js").mathjax,
      TeX: require("mathjax-full/js/input/tex.js").TeX,
      SVG: require("mathjax-full/js/output/svg.js").SVG,
      liteAdaptor: require("mathjax-full/js/adaptors/liteAdaptor.js").liteAdaptor,
      RegisterHTMLHandler: require("mathjax-full/js/handlers/html.js").RegisterHTMLHandler,
    };
    require("mathjax-full/js/input/tex/base/BaseConfiguration.js");
    require("mathjax-full/js/input/tex/ams/AmsConfiguration.js");
  } catch (e) {
    return null;
  }
  const adaptor = mj.liteAdaptor();
  mj.RegisterHTMLHandler(adaptor);
  const tex = new mj.TeX({
    packages: ["base", "ams"],
    maxBuffer: 1 << 22,          // long derivations are long formulas (default 5 KB)
    formatError: (jax, err) => { throw err; },
  });
  const doc = mj.mathjax.document("", { InputJax: tex, OutputJax: new mj.SVG() });
  return (formula) => doc.convert(formula, { display: true });
}

function attempt(render, formula) {
  if (render === null) return "absent";
  try {
    render(formula);
    return null;
  } catch (e) {
    return String(e.message || e);
  }
}

let input = "";
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const formulas = JSON.parse(input);
  const mathjax = mathjaxRenderer();
  const katexRender = (f) => katex.renderToString(f, { throwOnError: true, displayMode: true });
  const results = formulas.map((f) => ({
    katex: attempt(katexRender, f),
    mathjax: attempt(mathjax, f),
  }));
  process.stdout.write(JSON.stringify(results));
});
