'use strict';

var version = require('./version.js');

var CELLULAR = { '2g': true, '3g': true, '4g': true, '5g': true };

// "iOS 17.2" / "Android 14" → {name, version}.
function osOf(info) {
  var system = String(info.system || '');
  var space = system.indexOf(' ');
  if (space === -1) {
    return { name: system || String(info.platform || ''), version: '' };
  }
  return { name: system.slice(0, space), version: system.slice(space + 1) };
}

// The parts of the Segment context that describe the phone; they do not change while the app runs.
function deviceContextOf(info) {
  info = info || {};
  var context = {
    library: { name: version.NAME, version: version.VERSION },
    device: { manufacturer: info.brand, model: info.model, type: info.platform },
    os: osOf(info),
    screen: { width: info.screenWidth, height: info.screenHeight, density: info.pixelRatio },
    // WeChat says zh_CN; the Segment spec uses BCP 47 (zh-CN).
    locale: info.language ? String(info.language).replace('_', '-') : undefined,
  };
  return context;
}

function networkContextOf(networkType) {
  return { type: networkType, wifi: networkType === 'wifi', cellular: CELLULAR[networkType] === true };
}

module.exports = { deviceContextOf: deviceContextOf, networkContextOf: networkContextOf, osOf: osOf };
