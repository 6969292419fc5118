'use strict';

// ShopLoop tracking SDK for WeChat mini-programs. Copy this folder into your mini-program and, in app.js:
//   const { createAnalytics } = require('./shoploop/index.js');
//   const analytics = createAnalytics({ serverUrl: 'https://collect.example.com', writeKey: 'KEY' });
// See README.md.
var analytics = require('./lib/analytics.js');
var version = require('./lib/version.js');

function createAnalytics(options) {
  return new analytics.Analytics(options);
}

module.exports = {
  createAnalytics: createAnalytics,
  Analytics: analytics.Analytics,
  EVENTS: analytics.EVENTS,
  VERSION: version.VERSION,
};
