'use strict';

var test = require('node:test');
var assert = require('node:assert/strict');
var harness = require('../testing/harness.js');
var version = require('../lib/version.js');

function eventsNamed(collector, name) {
  return collector.delivered.filter(function (message) {
    return message.event === name;
  });
}

test('a cold start tracks Launched and Shown once, though onAppShow also hears the first show', async function () {
  var phone = harness.createPhone();
  var analytics = phone.launch({ scene: 1011, path: 'pages/index/index', query: { store: 'hangzhou-1' } });
  await analytics.flush();

  assert.deepEqual(phone.collector.deliveredEvents(), ['Mini Program Launched', 'Mini Program Shown']);
  var launched = phone.collector.delivered[0];
  assert.deepEqual(launched.properties, { scene: 1011, path: 'pages/index/index', query: { store: 'hangzhou-1' } });
  assert.equal(launched.context.wechat.scene, 1011);
});

test('every message carries the WeChat, library, device, os, screen, network and locale context', async function () {
  var phone = harness.createPhone();
  var analytics = phone.launch({ scene: 1089, path: 'pages/index/index', query: {} });
  analytics.setOpenid('oW2x_5fXyZopenid0002');
  await phone.wait(0);
  analytics.track('Product Viewed', { product_id: 'sku-baicha' });
  await analytics.flush();

  var viewed = eventsNamed(phone.collector, 'Product Viewed')[0];
  assert.deepEqual(viewed.context.wechat, { scene: 1089, appId: 'wx8f3c2a1b0d4e5f67', openid: 'oW2x_5fXyZopenid0002' });
  assert.deepEqual(viewed.context.library, { name: 'shoploop-miniprogram', version: version.VERSION });
  assert.deepEqual(viewed.context.device, { manufacturer: 'Apple', model: 'iPhone 15', type: 'ios' });
  assert.deepEqual(viewed.context.os, { name: 'iOS', version: '17.2' });
  assert.deepEqual(viewed.context.screen, { width: 393, height: 852, density: 3 });
  assert.deepEqual(viewed.context.network, { type: 'wifi', wifi: true, cellular: false });
  assert.equal(viewed.context.locale, 'zh-CN');
  assert.equal(viewed.timestamp, new Date(phone.clock.now()).toISOString());
});

test('hiding tracks Hidden with the time since the show and sends at once', async function () {
  var phone = harness.createPhone();
  var analytics = phone.launch({ scene: 1001, path: 'pages/index/index', query: {} }, { flushIntervalMs: 60000 });
  await phone.wait(0);
  phone.clock.advance(42000);
  phone.env.hide();
  await phone.wait(0);

  var hidden = eventsNamed(phone.collector, 'Mini Program Hidden');
  assert.equal(hidden.length, 1);
  assert.deepEqual(hidden[0].properties, { duration_ms: 42000, path: null });
  assert.equal(analytics.stats().queued, 0);
});

test('coming back from the background tracks Shown with the new scene, and later messages carry it', async function () {
  var phone = harness.createPhone();
  var analytics = phone.launch({ scene: 1001, path: 'pages/index/index', query: {} });
  phone.env.hide();
  phone.env.show({ scene: 1014, path: 'pages/order/detail', query: { order_id: 'SO-9' } });
  analytics.track('Order Updated', { order_id: 'SO-9' });
  await analytics.flush();

  var shown = eventsNamed(phone.collector, 'Mini Program Shown');
  assert.equal(shown.length, 2);
  assert.deepEqual(shown[1].properties, { scene: 1014, path: 'pages/order/detail', query: { order_id: 'SO-9' } });
  assert.equal(eventsNamed(phone.collector, 'Order Updated')[0].context.wechat.scene, 1014);
});

test('page views carry the route, the query and the previous page as referrer', async function () {
  var phone = harness.createPhone();
  var analytics = phone.launch({ scene: 1001, path: 'pages/index/index', query: {} });
  var shown = [];
  phone.env.definePage('pages/index/index', function () {
    phone.env.Page(analytics.wrapPage({ data: {}, onShow: function () { shown.push(this.route); } }));
  });
  phone.env.definePage('pages/goods/detail', function () {
    phone.env.Page(analytics.wrapPage({ data: {} }));
  });
  phone.env.openPage('pages/index/index', {});
  phone.env.openPage('pages/goods/detail', { id: 'sku-7' });
  await analytics.flush();

  var pages = phone.collector.delivered.filter(function (message) {
    return message.type === 'page';
  });
  assert.deepEqual(
    pages.map(function (message) {
      return { name: message.name, properties: message.properties };
    }),
    [
      { name: 'pages/index/index', properties: { path: 'pages/index/index', query: {}, referrer: null } },
      {
        name: 'pages/goods/detail',
        properties: { path: 'pages/goods/detail', query: { id: 'sku-7' }, referrer: 'pages/index/index' },
      },
    ]
  );
  assert.deepEqual(shown, ['pages/index/index'], "the page's own onShow still runs");
});

test('close stops timers and unregisters every wx listener', function () {
  var phone = harness.createPhone();
  var analytics = phone.launch({ scene: 1001, path: 'pages/index/index', query: {} });
  assert.ok(phone.env.listenerCount() > 0);
  analytics.close();
  assert.equal(phone.env.listenerCount(), 0);
  assert.deepEqual(phone.clock.pendingDelays(), []);
});
