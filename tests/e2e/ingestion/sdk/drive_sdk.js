'use strict';

// Drives the real mini-program SDK against a running collector: a fake WeChat runtime whose wx.request
// does real HTTP with Node's fetch. Usage: node drive_sdk.js '<json config>'; prints one JSON line
// {anonymousId, messages: [{messageId, type, event, name}], stats} once everything is delivered.
var path = require('node:path');

var sdkRoot = path.join(__dirname, '..', '..', '..', '..', 'ingestion', 'sdk', 'miniprogram');
var index = require(path.join(sdkRoot, 'index.js'));
var fakeWx = require(path.join(sdkRoot, 'testing', 'fake_wx.js'));

var config = JSON.parse(process.argv[2]);

function fetchTransport(request) {
  return fetch(request.url, {
    method: request.method,
    headers: request.header,
    body: JSON.stringify(request.body),
    signal: AbortSignal.timeout(10000),
  }).then(function (response) {
    return response.text().then(function (text) {
      var header = {};
      response.headers.forEach(function (value, key) {
        header[key] = value;
      });
      var data;
      try {
        data = JSON.parse(text);
      } catch (error) {
        data = text;
      }
      return { statusCode: response.status, data: data, header: header };
    });
  });
}

async function main() {
  var env = fakeWx.createFakeWx({ transport: fetchTransport });
  var sent = [];
  var analytics;
  env.launch(config.launch, function () {
    analytics = index.createAnalytics({
      serverUrl: config.serverUrl,
      writeKey: config.writeKey,
      wx: env.wx,
      flushIntervalMs: 200,
      retryBaseMs: 200,
      retryMaxMs: 2000,
    });
    env.App({});
  });
  env.definePage('pages/goods/detail', function () {
    env.Page(
      analytics.wrapPage({
        onShareAppMessage: function () {
          return { title: '明前龙井 250g', path: '/pages/goods/detail?id=' + this.options.id };
        },
      })
    );
  });
  analytics.setOpenid(config.openid);
  env.openPage('pages/goods/detail', { id: 'sku-longjing-250g' });
  analytics.track('Product Viewed', { product_id: 'sku-longjing-250g', name: '明前龙井 250g', price: 88.0 });
  analytics.track('Product Added', { product_id: 'sku-longjing-250g', quantity: 2, price: 88.0 });
  env.shareToChat('menu');
  env.hide();

  // Every message the SDK queued, read from wx storage before it is sent.
  env.storage.get('shoploop_queue').forEach(function (message) {
    sent.push({ messageId: message.messageId, type: message.type, event: message.event, name: message.name });
  });
  var deadline = Date.now() + 30000;
  var result = await analytics.flush();
  while (!result.isEmpty && Date.now() < deadline) {
    await new Promise(function (resolve) {
      setTimeout(resolve, 250);
    });
    result = await analytics.flush();
  }
  var stats = analytics.stats();
  analytics.close();
  process.stdout.write(JSON.stringify({ anonymousId: analytics.getAnonymousId(), messages: sent, stats: stats }) + '\n');
  process.exitCode = result.isEmpty ? 0 : 1;
}

main().catch(function (error) {
  process.stderr.write(String((error && error.stack) || error) + '\n');
  process.exitCode = 2;
});
