/**
 * The textbook tutor on every page of the book (a Docusaurus client module).
 *
 * - The tutor's chat is Chainlit's Copilot widget, from the tutor app itself: a sidebar on a desktop, full
 *   screen on a phone. It is mounted once, hidden, when the student shows intent (selects text in the page,
 *   points at or focuses a tutor control), so it is usually connected by the time they click; then it is only
 *   shown and hidden: Chainlit's own close unmounts the chat, and a chat that reconnects sends no signal of
 *   being ready again.
 * - "Ask about this page" above each page, and a popup on selected text (mouse, keyboard or touch) with
 *   "Explain" and "Ask about this".
 * - What a message carries besides the student's words is data, in its metadata: the page URL, the document
 *   id, the heading above the selection or the view, and the selection. The server treats it as untrusted
 *   input for its search, never as instructions.
 * - Messages wait until the widget is connected: the server calls `tutor_ready` (a CopilotFunction) when a
 *   chat session starts or resumes; there is no other ready event, and a message sent earlier is lost.
 * - The server asks `tutor_reading` where the student is when a message typed in the widget carries nothing.
 * - Citations `[n]` in the widget link to the cited page with `?tutor-cite=<passage id>`: the passage is
 *   fetched, found in the page, wrapped in `mark[data-tutor-citation]` and scrolled to, in place on the
 *   current page, after a client-side navigation on another.
 */
import ExecutionEnvironment from '@docusaurus/ExecutionEnvironment';

const CITE_PARAM = 'tutor-cite';
const MARK_ATTRIBUTE = 'data-tutor-citation';
const PHONE = '(max-width: 600px)';
const TOUCH = '(pointer: coarse)';
const QUOTE_CHARS = 80;

// -- where the student is reading ---------------------------------------------------------------------------

/** The Docusaurus document id of the page (on its <html> element), or null off the docs. */
function docId() {
  const prefix = 'docs-doc-id-';
  const found = [...document.documentElement.classList].find((c) => c.startsWith(prefix));
  return found ? found.slice(prefix.length) : null;
}

function markdown() {
  return document.querySelector('article .theme-doc-markdown') || document.querySelector('.theme-doc-markdown');
}

function headings() {
  const root = markdown();
  return root ? [...root.querySelectorAll('h2[id], h3[id], h4[id]')] : [];
}

/** The id of the last heading before `node` in the page ('' before the first). */
function headingBefore(node) {
  let anchor = '';
  for (const heading of headings()) {
    if (heading.compareDocumentPosition(node) & Node.DOCUMENT_POSITION_FOLLOWING) anchor = heading.id;
  }
  return anchor;
}

/** The id of the heading of the section in view: the last one above the top third of the window. */
function headingInView() {
  let anchor = '';
  for (const heading of headings()) {
    if (heading.getBoundingClientRect().top < window.innerHeight / 3) anchor = heading.id;
  }
  return anchor;
}

/** What a message carries about the page: null off the docs. */
function reading(selection, anchor) {
  const id = docId();
  if (!id) return null;
  return {
    doc_id: id,
    anchor: anchor === undefined ? headingInView() : anchor,
    selection: selection || '',
    url: window.location.origin + window.location.pathname,
  };
}

/** The selected text inside the book's page, with the heading it sits under; null for none. */
function selectedInPage() {
  const selection = window.getSelection();
  const root = markdown();
  if (!selection || selection.isCollapsed || !selection.rangeCount || !root) return null;
  const range = selection.getRangeAt(0);
  const text = selection.toString().replace(/\s+/g, ' ').trim();
  if (text.length < 2 || !root.contains(range.commonAncestorContainer)) return null;
  return {text, anchor: headingBefore(range.startContainer), rect: range.getBoundingClientRect()};
}

function quoted(text) {
  if (text.length <= QUOTE_CHARS) return `“${text}”`;
  const cut = text.slice(0, QUOTE_CHARS);
  return `“${cut.slice(0, Math.max(cut.lastIndexOf(' '), QUOTE_CHARS / 2))}…”`;
}

// -- small DOM helpers ----------------------------------------------------------------------------------------

function element(tag, attributes = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === 'onClick') node.addEventListener('click', value);
    else node.setAttribute(name, value);
  }
  for (const child of [].concat(children)) node.append(child);
  return node;
}

/** A button that keeps the page's selection when pressed (a tap or click would otherwise clear it). */
function button(label, action, attributes = {}) {
  const node = element('button', {type: 'button', class: 'tutor-button', ...attributes}, label);
  node.addEventListener('pointerdown', (event) => event.preventDefault());
  node.addEventListener('mousedown', (event) => event.preventDefault());
  node.addEventListener('click', (event) => {
    event.preventDefault();
    action();
  });
  return node;
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = element('script', {src, async: ''});
    script.onload = resolve;
    script.onerror = () => reject(new Error(`The tutor's widget could not be loaded from ${src}.`));
    document.head.append(script);
  });
}

// -- the tutor app ----------------------------------------------------------------------------------------------

class TutorApp {
  constructor(base) {
    this.base = base; // the tutor's URL, without a trailing slash
  }

  static fromPage() {
    const meta = document.querySelector('meta[name="textbook-tutor-url"]');
    const url = new URL((meta && meta.content) || '/', window.location.href);
    return new TutorApp(url.href.replace(/\/+$/, ''));
  }

  async request(method, path) {
    const response = await fetch(`${this.base}${path}`, {method, credentials: 'include'});
    const body = await response.json().catch(() => ({}));
    return {ok: response.ok, status: response.status, body};
  }

  /** A token for the widget: the visitor's (no login configured) or the logged-in user's; null with a reason. */
  async widgetToken() {
    const {ok, status, body} = await this.request('POST', '/api/v1/widget/token');
    if (ok) return {token: body.accessToken};
    return {token: null, status, detail: body.detail || `The tutor answered ${status}.`, login: body.login_url};
  }

  /** Exchange the widget's token for the tutor's session cookie before the widget mounts. Chainlit's Copilot
   * does the exchange itself but keeps the 401 of its first `/user` until something revalidates it (the page
   * regaining focus); its settings then load while messages are shown, its feedback buttons appear, and React
   * fails (error 310) and the widget goes blank. Signed in first, the widget has its user and settings from
   * the start. A failure here is left to the widget's own exchange. */
  async signIn(token) {
    const response = await fetch(`${this.base}/auth/jwt?client=book`, {
      method: 'POST',
      credentials: 'include',
      headers: {Authorization: `Bearer ${token}`},
    }).catch(() => null);
    return Boolean(response && response.ok);
  }

  passage(id) {
    return this.request('GET', `/api/v1/passages/${encodeURIComponent(id)}`);
  }

  chats() {
    return this.request('GET', '/api/v1/chats?limit=20');
  }
}

// -- the widget ---------------------------------------------------------------------------------------------------

class Widget {
  constructor(app, ui) {
    this.app = app;
    this.ui = ui;
    this.loading = null; // the promise of the mounted widget
    this.ready = false; // a chat session is connected: messages may be sent
    this.queue = []; // messages waiting for it
    window.addEventListener('chainlit-call-fn', (event) => this.onCall(event.detail));
  }

  host() {
    return document.getElementById('chainlit-copilot');
  }

  /** Load, sign in and connect the widget, hidden until `show()`; once. A failure is kept for `show()`. */
  mount() {
    if (!this.loading) {
      this.loading = (async () => {
        const [token] = await Promise.all([this.app.widgetToken(), loadScript(`${this.app.base}/copilot/index.js`)]);
        if (!token.token) throw Object.assign(new Error(token.detail), token);
        await this.app.signIn(token.token);
        window.mountChainlitWidget({
          chainlitServer: this.app.base,
          accessToken: token.token,
          displayMode: 'sidebar',
          opened: true,
          theme: document.documentElement.dataset.theme === 'dark' ? 'dark' : 'light',
          customCssUrl: `${this.app.base}/public/copilot.css`,
          // Marks the widget's requests: the tutor offers it no chat-profile menu, which crashes Chainlit's
          // Copilot when it chooses a profile after a message is shown (the tutor's web/widget.py).
          additionalQueryParamsForAPI: {client: 'book'},
        });
        // names and roles Chainlit's markup leaves out, as on the chat page (the app's public/accessibility.js);
        // the widget works without them
        loadScript(`${this.app.base}/public/accessibility.js`).then(
          () => window.tutorAccessibility?.(this.host().shadowRoot),
          () => {},
        );
      })();
      this.loading.catch(() => {
        this.loading = null; // a later click tries again (the app may have been restarting)
      });
    }
    return this.loading;
  }

  get shown() {
    const host = this.host();
    return Boolean(host) && !document.body.classList.contains('tutor-hidden');
  }

  async show() {
    document.body.classList.remove('tutor-hidden');
    document.body.classList.add('tutor-open');
    this.ui.opened();
    try {
      await this.mount();
    } catch (error) {
      this.hide();
      this.ui.failed(error);
      throw error;
    }
  }

  hide() {
    document.body.classList.add('tutor-hidden');
    document.body.classList.remove('tutor-open');
    this.ui.closed();
  }

  /** Send a user message (its words, and where the student is as data) once the chat is connected; if the
   * widget cannot load, the notice says why and the message waits for the next try. */
  async ask(content, readingData) {
    const message = {name: 'User', type: 'user_message', output: content, metadata: {}};
    if (readingData) message.metadata.reading = readingData;
    this.queue.push(message);
    try {
      await this.show();
    } catch {
      return;
    }
    this.flush();
  }

  flush() {
    while (this.ready && this.queue.length) window.sendChainlitMessage(this.queue.shift());
  }

  /** Open one of the student's chats in the widget (Chainlit's way to change its thread). */
  async resume(threadId) {
    try {
      await this.show();
    } catch {
      return;
    }
    this.ready = false;
    window.clearChainlitCopilotThreadId(threadId);
  }

  onCall({name, callback}) {
    if (name === 'tutor_ready') {
      this.ready = true;
      callback({ok: true});
      this.flush();
    } else if (name === 'tutor_reading') {
      const selected = selectedInPage();
      callback(reading(selected ? selected.text : '', selected ? selected.anchor : undefined) || {});
    }
  }
}

// -- citations: the cited passage, found in the page and marked ---------------------------------------------------

function words(text) {
  return text
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

/** A passage's markdown as its words: code fences, link targets and markup are not what the page shows. */
function passageWords(markdownText) {
  const text = markdownText
    .replace(/^\s*(```|~~~).*$/gm, ' ')
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, ' ');
  return ` ${words(text)} `;
}

/** The page's blocks of text: paragraphs, list items, code, table cells, quotes. */
function blocks(root) {
  const found = [...root.querySelectorAll('p, li, pre, td, th, dt, dd, blockquote')];
  return found.filter((node) => !node.querySelector('p, li, pre') && !node.closest('.tutor-page-bar'));
}

// A block is the passage's when it holds a run of this many of the passage's words: fewer ("Simulation", a
// one-word table cell) occur in a passage by chance.
const MIN_RUN = 4;

/** Whether a block of the page is (at least in part: a passage may start or end mid-paragraph) in the passage. */
function inPassage(blockText, passage) {
  if (!blockText) return false;
  const list = blockText.split(' ');
  if (list.length >= MIN_RUN && passage.includes(` ${blockText} `)) return true;
  if (list.length < 8) return false;
  const head = ` ${list.slice(0, 6).join(' ')} `;
  const tail = ` ${list.slice(-6).join(' ')} `;
  return passage.includes(head) || passage.includes(tail);
}

function unmark() {
  for (const note of document.querySelectorAll(`aside[${MARK_ATTRIBUTE}]`)) note.remove();
  for (const mark of document.querySelectorAll(`mark[${MARK_ATTRIBUTE}]`)) {
    const parent = mark.parentNode;
    while (mark.firstChild) parent.insertBefore(mark.firstChild, mark);
    mark.remove();
  }
}

function wrap(node, id) {
  const mark = element('mark', {[MARK_ATTRIBUTE]: id, class: 'tutor-citation'});
  while (node.firstChild) mark.append(node.firstChild);
  node.append(mark);
  return mark;
}

/** Mark the blocks of the passage's own section that hold it; the section's heading when none is found. */
function markPassage(passage) {
  const root = markdown();
  if (!root) return [];
  const text = passageWords(passage.text || '');
  let marks = blocks(root)
    .filter((node) => headingBefore(node) === (passage.anchor || ''))
    .filter((node) => inPassage(words(node.innerText || node.textContent || ''), text))
    .map((node) => wrap(node, passage.id));
  if (!marks.length && passage.anchor) {
    const heading = document.getElementById(passage.anchor);
    marks = heading ? [wrap(heading, passage.id)] : [];
  }
  return marks;
}

/**
 * A passage the book has changed since the answer cited it: nothing in the page is it any more, so a note at its
 * section (or the page's top) says so and shows it as the answer cited it.
 */
function showChanged(passage) {
  const root = markdown();
  if (!root) return [];
  const quoted = element('blockquote', {});
  quoted.innerHTML = passage.html; // rendered by the tutor from the book's markdown, raw HTML escaped
  const note = element('aside', {[MARK_ATTRIBUTE]: passage.id, class: 'tutor-changed', role: 'note'}, [
    element('p', {}, 'This section has changed since the answer cited it. The passage as the answer cited it:'),
    quoted,
  ]);
  const heading = passage.anchor ? document.getElementById(passage.anchor) : null;
  if (heading && root.contains(heading)) heading.after(note);
  else root.prepend(note);
  return [note];
}

class Citations {
  constructor(app, widget) {
    this.app = app;
    this.widget = widget;
    document.addEventListener('click', (event) => this.onClick(event), true);
  }

  /** A click on a citation link, in the widget (its shadow root) or anywhere in the page. */
  onClick(event) {
    const link = event.composedPath().find((node) => node instanceof HTMLAnchorElement);
    if (!link || !link.href) return;
    const url = new URL(link.href, window.location.href);
    if (!url.searchParams.has(CITE_PARAM) || url.origin !== window.location.origin) return;
    event.preventDefault();
    event.stopPropagation();
    // A phone shows the chat full screen: it steps aside for the passage (the launcher brings it back).
    if (window.matchMedia(PHONE).matches) this.widget.hide();
    if (url.pathname.replace(/\/$/, '') === window.location.pathname.replace(/\/$/, '')) {
      window.history.replaceState(window.history.state, '', url.pathname + url.search + url.hash);
      this.show(url.searchParams.get(CITE_PARAM));
    } else {
      // Docusaurus' router follows the history: the page changes without reloading the widget.
      window.history.pushState(null, '', url.pathname + url.search + url.hash);
      window.dispatchEvent(new PopStateEvent('popstate', {state: null}));
    }
  }

  /** After a page renders: the passage its URL cites, if any. */
  afterRoute() {
    const id = new URLSearchParams(window.location.search).get(CITE_PARAM);
    if (id) this.show(id);
  }

  async show(id) {
    const {ok, body} = await this.app.passage(id);
    if (!ok) return;
    // Let Docusaurus finish its own scroll to the heading first.
    await new Promise((resolve) => setTimeout(resolve, 50));
    unmark();
    const marks = body.current === false ? showChanged(body) : markPassage(body);
    if (marks.length) marks[0].scrollIntoView({block: 'center', behavior: 'smooth'});
  }
}

// -- the controls on the page ----------------------------------------------------------------------------------

class PageControls {
  constructor() {
    this.widget = null; // set once the widget exists
    this.launcher = button('Ask the tutor', () => this.widget.show().catch(() => {}), {
      class: 'tutor-button tutor-launcher',
    });
    this.close = button('✕', () => this.widget.hide(), {
      class: 'tutor-button tutor-close',
      'aria-label': 'Close the tutor',
    });
    this.chatsButton = button('Chats', () => this.toggleChats(), {class: 'tutor-button tutor-chats-button'});
    this.chatsList = element('div', {class: 'tutor-chats', role: 'menu', hidden: ''});
    this.notice = element('div', {class: 'tutor-notice', role: 'status', hidden: ''});
    this.popup = element('div', {class: 'tutor-popup', role: 'toolbar', 'aria-label': 'The tutor', hidden: ''});
    this.form = element('form', {class: 'tutor-ask', hidden: ''});
    this.pending = null; // the selection the popup acts on
    document.body.append(this.launcher, this.close, this.chatsButton, this.chatsList, this.notice, this.popup, this.form);
    document.body.classList.add('tutor-hidden');
  }

  attach(widget, app) {
    this.widget = widget;
    this.app = app;
    this.popup.append(
      button('Explain', () => this.explain(), {'data-tutor': 'explain'}),
      button('Ask about this', () => this.askAbout(), {'data-tutor': 'ask-selection'}),
    );
    document.addEventListener('selectionchange', () => this.onSelection());
    // Intent: a pointer over, a touch on or the focus in a tutor control warms the widget up.
    for (const type of ['pointerover', 'touchstart', 'focusin']) {
      document.addEventListener(type, (event) => this.onIntent(event), {passive: true, capture: true});
    }
  }

  onIntent(event) {
    const target = event.target instanceof Element ? event.target : null;
    if (target && target.closest('.tutor-button, .tutor-page-bar')) this.warm();
  }

  /** Mount the widget hidden, so that it is connected by the time the student asks. */
  warm() {
    this.widget.mount().catch(() => {}); // a failure is shown when they do ask
  }

  opened() {
    this.notice.hidden = true;
  }

  closed() {
    this.chatsList.hidden = true;
  }

  failed(error) {
    this.notice.replaceChildren(error.message || String(error));
    if (error.login) {
      this.notice.append(' ', element('a', {href: `${this.app.base}${error.login}`}, 'Log in to the tutor'));
    }
    this.notice.hidden = false;
  }

  /** The "Ask about this page" bar, above the page's text (docs pages only). */
  addPageBar() {
    const root = markdown();
    if (!root || !docId() || root.querySelector('.tutor-page-bar')) return;
    const bar = element('div', {class: 'tutor-page-bar'}, [
      button('Ask about this page', () => this.openForm('page'), {'data-tutor': 'ask-page'}),
    ]);
    const header = root.querySelector(':scope > header');
    if (header) header.after(bar);
    else root.prepend(bar);
  }

  removePageBar() {
    for (const bar of document.querySelectorAll('.tutor-page-bar')) bar.remove();
    this.popup.hidden = true;
    this.form.hidden = true;
  }

  onSelection() {
    if (this.form.contains(document.activeElement)) return;
    const selected = selectedInPage();
    document.body.classList.toggle('tutor-selecting', Boolean(selected));
    if (!selected) {
      this.popup.hidden = true;
      return;
    }
    this.pending = selected;
    this.warm();
    // On a phone or a touch screen the browser's own menu sits by the selection: the popup is a bar at the
    // bottom of the screen instead.
    const sheet = window.matchMedia(PHONE).matches || window.matchMedia(TOUCH).matches;
    this.popup.classList.toggle('tutor-sheet', sheet);
    if (!sheet) {
      const {rect} = selected;
      this.popup.style.top = `${Math.max(8, rect.top - 48)}px`;
      this.popup.style.left = `${Math.max(8, Math.min(rect.left, window.innerWidth - 240))}px`;
    }
    this.popup.hidden = false;
  }

  explain() {
    const selected = this.pending;
    if (!selected) return;
    this.popup.hidden = true;
    document.body.classList.remove('tutor-selecting');
    this.widget.ask(`Explain ${quoted(selected.text)}`, reading(selected.text, selected.anchor));
  }

  askAbout() {
    if (!this.pending) return;
    this.popup.hidden = true;
    document.body.classList.remove('tutor-selecting');
    this.openForm('selection');
  }

  /** A small form for the student's own question, about the page or about the selection. */
  openForm(about) {
    const selected = about === 'selection' ? this.pending : null;
    const title = document.querySelector('article h1');
    const label = selected
      ? `Ask about ${quoted(selected.text)}`
      : `Ask about “${title ? title.textContent.trim() : document.title}”`;
    const input = element('textarea', {name: 'question', rows: '2', maxlength: '4000', 'aria-label': label});
    const send = () => {
      const question = input.value.trim();
      if (!question) return;
      this.form.hidden = true;
      const where = selected ? reading(selected.text, selected.anchor) : reading('');
      this.widget.ask(question, where);
    };
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey) {
        event.preventDefault();
        send();
      } else if (event.key === 'Escape') this.form.hidden = true;
    });
    this.form.replaceChildren(
      element('label', {class: 'tutor-ask-label'}, label),
      input,
      element('div', {class: 'tutor-ask-actions'}, [
        button('Cancel', () => (this.form.hidden = true), {class: 'tutor-button tutor-secondary'}),
        button('Ask', send, {'data-tutor': 'send'}),
      ]),
    );
    this.form.onsubmit = (event) => {
      event.preventDefault();
      send();
    };
    this.form.hidden = false;
    input.focus();
  }

  async toggleChats() {
    if (!this.chatsList.hidden) {
      this.chatsList.hidden = true;
      return;
    }
    const {ok, body} = await this.app.chats();
    const rows = ok ? body.chats || [] : [];
    this.chatsList.replaceChildren(
      ...rows.map((chat) =>
        button(chat.name || 'Untitled chat', () => this.openChat(chat.id), {
          class: 'tutor-chat',
          role: 'menuitem',
          'data-chat-id': chat.id,
        }),
      ),
      rows.length ? '' : element('p', {}, ok ? 'No chats yet.' : 'Your chats could not be loaded.'),
      element('a', {href: `${this.app.base}/`, class: 'tutor-all-chats'}, 'All chats in the tutor app'),
    );
    this.chatsList.hidden = false;
  }

  openChat(id) {
    this.chatsList.hidden = true;
    this.widget.resume(id);
  }
}

// -- the client module ------------------------------------------------------------------------------------------

function start() {
  const app = TutorApp.fromPage();
  const controls = new PageControls();
  const widget = new Widget(app, controls);
  controls.attach(widget, app);
  const citations = new Citations(app, widget);
  return {controls, citations};
}

const tutor = ExecutionEnvironment.canUseDOM ? start() : null;

export function onRouteUpdate() {
  // Before React changes the page: take out what this module put into it.
  if (!tutor) return;
  unmark();
  tutor.controls.removePageBar();
}

export function onRouteDidUpdate() {
  if (!tutor) return;
  tutor.controls.addPageBar();
  tutor.citations.afterRoute();
}
