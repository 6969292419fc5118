'use strict';

var test = require('node:test');
var assert = require('node:assert/strict');
var harness = require('../testing/harness.js');

test('messages queued while offline survive a restart and are sent by the next instance', async function () {
  var phone = harness.createPhone();
  phone.collector.isUp = false;
  var first = phone.start();
  first.track('Product Viewed', { product_id: 'sku-pu-erh-357g' });
  first.track('Product Added', { product_id: 'sku-pu-erh-357g', quantity: 1 });
  await phone.wait(6000);
  assert.equal(first.stats().queued, 2);
  var queuedIds = phone.storage.get('shoploop_queue').map(function (message) {
    return message.messageId;
  });

  // The shopper closes WeChat; later the network is back and the mini-program starts again.
  phone.collector.isUp = true;
  var second = phone.start();
  assert.equal(second.stats().queued, 2);
  await phone.wait(6000);

  assert.deepEqual(phone.collector.deliveredIds(), queuedIds);
  assert.deepEqual(phone.storage.get('shoploop_queue'), []);
});

test('the anonymousId, userId and openid are the same after a restart', async function () {
  var phone = harness.createPhone();
  var first = phone.start();
  first.identify('member-8848', {});
  first.setOpenid('oW2x_5fXyZopenid0001');
  var anonymousId = first.getAnonymousId();

  var second = phone.start();
  second.track('Cart Viewed', {});
  await second.flush();

  var cartViewed = phone.collector.delivered[phone.collector.delivered.length - 1];
  assert.equal(second.getAnonymousId(), anonymousId);
  assert.equal(cartViewed.anonymousId, anonymousId);
  assert.equal(cartViewed.userId, 'member-8848');
  assert.equal(cartViewed.context.wechat.openid, 'oW2x_5fXyZopenid0001');
});

test('reset forgets the shopper: new anonymousId, no userId, no openid', async function () {
  var phone = harness.createPhone();
  var analytics = phone.start();
  analytics.identify('member-8848', {});
  analytics.setOpenid('oW2x_5fXyZopenid0001');
  var before = analytics.getAnonymousId();
  analytics.reset();
  analytics.track('Products Searched', { query: '龙井' });
  await analytics.flush();

  var searched = phone.collector.delivered[phone.collector.delivered.length - 1];
  assert.notEqual(searched.anonymousId, before);
  assert.equal(searched.userId, undefined);
  assert.equal(searched.context.wechat.openid, undefined);
  assert.equal(phone.start().getAnonymousId(), searched.anonymousId);
});

test('a corrupted stored queue is ignored instead of breaking the mini-program', function () {
  var phone = harness.createPhone();
  phone.storage.set('shoploop_queue', 'not a list');
  var analytics = phone.start();
  assert.equal(analytics.stats().queued, 0);
  analytics.track('Cart Viewed', {});
  assert.equal(analytics.stats().queued, 1);
});
