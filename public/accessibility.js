// What Chainlit's markup leaves out for a screen reader (found by axe-core in the browser tests): names for its
// icon-only buttons, a role and name for the chat options' div that acts as a button, and list semantics for the
// chat list's spacer. Applied again whenever Chainlit renders, since React rebuilds these elements: on the chat
// page at once, in a book's widget when the book's plugin hands it the widget (`tutorAccessibility(shadowRoot)`).
(() => {
  const NAMES = [
    ["#sidebar-trigger-button", "Show or hide the chat list"],
    ["#search-chats-button", "Search chats"],
    ["#new-chat-button", "New chat"],
    ["#chat-profiles", "Model"],
    ["#chat-submit", "Send the question"],
    ["#stop-button", "Stop the answer"],
    ["#scroll-down-button", "Scroll to the latest message"],
    ["#theme-toggle", "Switch between light and dark"],
    [".positive-feedback-off, .positive-feedback-on", "This answer helped"],
    [".negative-feedback-off, .negative-feedback-on", "This answer did not help"],
    ["button:has(> svg.lucide-copy), button:has(> svg.lucide-check)", "Copy the answer"],
    ["#thread-history button.invisible, #thread-options", "Chat options"],
  ];

  function name(button) {
    if (button.getAttribute("aria-label")) return;
    const known = NAMES.find(([selector]) => button.matches(selector));
    const icon = [...(button.querySelector("svg")?.classList || [])].find((c) => c.startsWith("lucide-"));
    const label = known ? known[1] : !button.innerText.trim() && icon?.slice("lucide-".length).replaceAll("-", " ");
    if (label) button.setAttribute("aria-label", label);
  }

  function repair(root) {
    root.querySelectorAll("button").forEach(name);
    // a menu trigger drawn as a div inside the chat list's link: a button to assistive technology, not a tab stop
    root.querySelectorAll("div[aria-haspopup]:not([role])").forEach((div) => {
      div.setAttribute("role", "button");
      name(div);
    });
    root.querySelectorAll("ul > :not(li):not([aria-hidden]):not([role])").forEach((child) => {
      if (child.textContent.trim()) child.setAttribute("role", "listitem");
      else child.setAttribute("aria-hidden", "true");
    });
  }

  function watch(root) {
    let queued = false;
    new MutationObserver(() => {
      if (queued) return;
      queued = true;
      requestAnimationFrame(() => {
        queued = false;
        repair(root);
      });
    }).observe(root, { subtree: true, childList: true });
    repair(root);
  }

  window.tutorAccessibility = watch;
  const chatPage = document.getElementById("root"); // Chainlit's page; a book page has none
  if (chatPage) watch(chatPage);
})();
