// The chat page's welcome screen says what the tutor is and links the book: Chainlit shows only a logo and the
// starters. The words are the app's own (`[UI] name` and `description` in .chainlit/config.toml, which a
// maintainer sets for their book); the link is the book the app serves at /book/, when it serves one.
(() => {
  const root = (document.querySelector('meta[property="og:root_path"]')?.content || "").replace(/\/$/, "");
  const description = document.querySelector('meta[name="description"]')?.content || "";
  let book = null; // the book's address, once the app says it serves one

  function intro() {
    const section = document.createElement("section");
    section.id = "tutor-welcome";
    const title = document.createElement("h1");
    title.textContent = document.title;
    const text = document.createElement("p");
    text.textContent = description;
    section.append(title, text);
    if (book) {
      const link = Object.assign(document.createElement("a"), { href: book, textContent: "Read the book" });
      const where = document.createElement("p");
      where.append(link);
      section.append(where);
    }
    return section;
  }

  function place() {
    const welcome = document.getElementById("welcome-screen");
    if (!welcome || welcome.querySelector("#tutor-welcome") || !welcome.firstElementChild) return;
    welcome.firstElementChild.after(intro());
  }

  fetch(`${root}/book/`, { method: "HEAD", credentials: "same-origin" })
    .then((response) => {
      if (response.status === 200 || response.status === 503) book = `${root}/book/`; // 503: being built
    })
    .catch(() => {})
    .finally(() => {
      document.getElementById("tutor-welcome")?.remove();
      place();
    });
  new MutationObserver(place).observe(document.documentElement, { subtree: true, childList: true });
})();
