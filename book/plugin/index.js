/**
 * docusaurus-plugin-textbook-tutor: the textbook tutor on every docs page of a Docusaurus book.
 *
 *   plugins: [['docusaurus-plugin-textbook-tutor', {tutorUrl: 'https://tutor.school.edu'}]]
 *
 * `tutorUrl` is where the tutor app answers: '/' when it serves the book itself (same origin), or its URL
 * (with CHAINLIT_ROOT_PATH when it sits under a path of a reverse proxy). The page code is client.js.
 */
const path = require('path');

const NAME = 'docusaurus-plugin-textbook-tutor';

function textbookTutor(context, options) {
  return {
    name: NAME,
    getClientModules() {
      return [path.resolve(__dirname, 'tutor.css'), path.resolve(__dirname, 'client.js')];
    },
    injectHtmlTags() {
      // The client module reads the tutor's address here: plugin options do not reach client modules.
      return {headTags: [{tagName: 'meta', attributes: {name: 'textbook-tutor-url', content: options.tutorUrl}}]};
    },
  };
}

/** The options, checked when the site builds: a wrong tutorUrl says what to write instead. */
textbookTutor.validateOptions = ({options}) => {
  const tutorUrl = options && options.tutorUrl;
  const fix = `Set it to '/' (the tutor app serves the book) or to the tutor's http(s) URL, e.g. 'https://tutor.school.edu'.`;
  if (typeof tutorUrl !== 'string' || !tutorUrl.trim()) {
    throw new Error(`${NAME}: the option tutorUrl is missing. ${fix}`);
  }
  if (!/^(https?:\/\/[^\s/]+|\/)[^\s]*$/.test(tutorUrl.trim())) {
    throw new Error(`${NAME}: tutorUrl ${JSON.stringify(tutorUrl)} is neither a path nor an http(s) URL. ${fix}`);
  }
  return {tutorUrl: tutorUrl.trim()};
};

module.exports = textbookTutor;
