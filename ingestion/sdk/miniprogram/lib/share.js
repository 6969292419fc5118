'use strict';

// Share attribution travels in the shared path's query: sl_share_id names this share, sl_share_depth
// counts how many shares away from the first sharer the shopper who opens it is.
var SHARE_ID_PARAM = 'sl_share_id';
var SHARE_DEPTH_PARAM = 'sl_share_depth';

// The share a shopper entered through, read from launch/show options.query; null when not from a share.
function shareEntryOf(query) {
  if (!query || typeof query !== 'object' || !query[SHARE_ID_PARAM]) {
    return null;
  }
  var depth = parseInt(query[SHARE_DEPTH_PARAM], 10);
  return { shareId: String(query[SHARE_ID_PARAM]), depth: isFinite(depth) && depth > 0 ? depth : 1 };
}

// The depth of a share made by a shopper who entered through `entry` (null: they are the first sharer).
function nextShareDepth(entry) {
  return entry ? entry.depth + 1 : 1;
}

function withoutShareParams(queryString) {
  return queryString
    .split('&')
    .filter(function (pair) {
      var key = pair.split('=')[0];
      return pair !== '' && key !== SHARE_ID_PARAM && key !== SHARE_DEPTH_PARAM;
    })
    .join('&');
}

// Append this share's parameters to a query string ("a=1&b=2"), replacing any the page was opened with.
function appendShareToQuery(queryString, shareId, depth) {
  var kept = withoutShareParams(queryString || '');
  var added = SHARE_ID_PARAM + '=' + encodeURIComponent(shareId) + '&' + SHARE_DEPTH_PARAM + '=' + depth;
  return kept ? kept + '&' + added : added;
}

// Append this share's parameters to a path ("/pages/goods/detail?id=7").
function appendShareToPath(path, shareId, depth) {
  var mark = path.indexOf('?');
  var base = mark === -1 ? path : path.slice(0, mark);
  var query = mark === -1 ? '' : path.slice(mark + 1);
  return base + '?' + appendShareToQuery(query, shareId, depth);
}

// A page's route and options as a path, the way WeChat shares the current page by default.
function pathOf(route, options) {
  var pairs = Object.keys(options || {})
    .filter(function (key) {
      return options[key] !== undefined && options[key] !== null;
    })
    .map(function (key) {
      return encodeURIComponent(key) + '=' + encodeURIComponent(options[key]);
    });
  return '/' + String(route || '').replace(/^\//, '') + (pairs.length ? '?' + pairs.join('&') : '');
}

module.exports = {
  SHARE_ID_PARAM: SHARE_ID_PARAM,
  SHARE_DEPTH_PARAM: SHARE_DEPTH_PARAM,
  shareEntryOf: shareEntryOf,
  nextShareDepth: nextShareDepth,
  appendShareToQuery: appendShareToQuery,
  appendShareToPath: appendShareToPath,
  pathOf: pathOf,
};
