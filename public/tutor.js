// The chat page's own scripts. Chainlit loads one file (`custom_js` in .chainlit/config.toml); each job is its
// own file beside this one: the citation panel, the names and roles Chainlit's markup leaves out, and the
// welcome screen's introduction.
for (const name of ["citations.js", "accessibility.js", "welcome.js"]) {
  const script = document.createElement("script");
  script.src = new URL(name, document.currentScript.src).href;
  document.head.append(script);
}
