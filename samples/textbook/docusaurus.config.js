// The sample textbook as a Docusaurus site, with the tutor on every page (docs/book.md).
// `make run` builds it into build/ and the app serves it at /book/, the same origin as the tutor; ingest's
// --base-url /book makes every citation link point into it.

/** @type {import('@docusaurus/types').Config} */
module.exports = {
  title: 'Physical AI & Humanoid Robotics',
  tagline: 'A sample textbook, with its tutor',
  url: process.env.BOOK_SITE_URL || 'http://localhost:8000',
  baseUrl: '/book/',
  onBrokenLinks: 'throw',
  markdown: {hooks: {onBrokenMarkdownLinks: 'throw'}},
  i18n: {defaultLocale: 'en', locales: ['en']},
  presets: [
    [
      'classic',
      {
        docs: {routeBasePath: '/'}, // docs only: the book is the site
        blog: false,
        pages: false,
        theme: {customCss: require.resolve('./src/css/custom.css')},
      },
    ],
  ],
  plugins: [
    // The tutor's address: '/' when the app serves the book itself (same origin), else its URL.
    ['docusaurus-plugin-textbook-tutor', {tutorUrl: process.env.TUTOR_URL || '/'}],
  ],
  themeConfig: {
    navbar: {title: 'Physical AI & Humanoid Robotics'},
    colorMode: {respectPrefersColorScheme: true},
  },
};
