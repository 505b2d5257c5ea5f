// The chat page's citation panel. An answer's `[n]` links to `#tutor-passage=<id>` (web/display.py); a click
// (or Enter) opens that passage alone in a panel beside the answer: docked on the right on a wide screen, along
// the bottom on a phone, never modal, so the answer and its other `[n]` stay in reach. Chainlit's own side
// panel opened by itself with the passages of every earlier answer, under the last one's title.
(() => {
  const PREFIX = "#tutor-passage=";
  const OPEN = "tutor-passage-open";
  let opener = null;

  const root = () =>
    (document.querySelector('meta[property="og:root_path"]')?.content || "").replace(/\/$/, "");

  function element(tag, props = {}, children = []) {
    const node = Object.assign(document.createElement(tag), props);
    node.append(...children);
    return node;
  }

  function panel() {
    let aside = document.getElementById("tutor-passage");
    if (aside) return aside;
    const close = element("button", { type: "button", className: "tutor-passage-close", textContent: "×" });
    close.setAttribute("aria-label", "Close the passage");
    close.addEventListener("click", hide);
    const title = element("h2", { id: "tutor-passage-title", tabIndex: -1 });
    aside = element("aside", { id: "tutor-passage" }, [
      element("header", {}, [title, close]),
      element("div", { className: "tutor-passage-body" }),
    ]);
    aside.setAttribute("aria-labelledby", "tutor-passage-title");
    aside.addEventListener("keydown", (event) => event.key === "Escape" && hide());
    document.body.append(aside);
    return aside;
  }

  function hide() {
    document.getElementById("tutor-passage")?.remove();
    document.body.classList.remove(OPEN);
    opener?.focus();
    opener = null;
  }

  function fill(aside, label, passage) {
    aside.querySelector("#tutor-passage-title").textContent = `${label} ${passage.title}`;
    const body = aside.querySelector(".tutor-passage-body");
    const crumb = element("p", { className: "tutor-passage-crumb", textContent: passage.section });
    const text = element("div", { className: "tutor-passage-text" });
    text.innerHTML = passage.html; // rendered by the server from the book's markdown, raw HTML escaped
    body.replaceChildren(crumb, text);
    if (passage.current === false) {
      // the book changed after the answer cited it: the passage is shown as it was then
      const note = "This section has changed since this answer: the passage is shown as the answer cited it.";
      body.prepend(element("p", { className: "tutor-passage-changed", role: "note", textContent: note }));
    }
    if (passage.link) {
      const words = passage.current === false ? "Open the current section" : "Open this section in the book";
      const link = element("a", { href: passage.link, target: "_blank", rel: "noopener" }, [words]);
      body.append(element("p", {}, [link]));
    }
  }

  async function show(link) {
    const id = decodeURIComponent(link.getAttribute("href").slice(PREFIX.length));
    const label = link.textContent.trim();
    opener = link;
    const aside = panel();
    aside.dataset.passage = id;
    aside.querySelector("#tutor-passage-title").textContent = label;
    aside.querySelector(".tutor-passage-body").replaceChildren(element("p", { textContent: "Opening the passage…" }));
    document.body.classList.add(OPEN);
    aside.querySelector("#tutor-passage-title").focus();
    let said;
    try {
      const response = await fetch(`${root()}/api/v1/passages/${encodeURIComponent(id)}`, {
        credentials: "same-origin",
      });
      const body = await response.json();
      if (aside.dataset.passage !== id) return; // another [n] was clicked meanwhile
      if (response.ok) return fill(aside, label, body);
      said = body.detail;
    } catch (error) {
      said = "The tutor could not be reached: check the connection and click the citation again.";
    }
    aside.querySelector(".tutor-passage-body").replaceChildren(element("p", { role: "alert", textContent: said }));
  }

  document.addEventListener(
    "click",
    (event) => {
      const link = event.target.closest?.(`a[href^="${PREFIX}"]`);
      if (!link) return;
      event.preventDefault();
      event.stopPropagation();
      show(link);
    },
    true,
  );
})();
