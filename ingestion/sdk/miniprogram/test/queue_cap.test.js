'use strict';

var test = require('node:test');
var assert = require('node:assert/strict');
var harness = require('../testing/harness.js');

test('past the hard cap the oldest messages are dropped, counted, and reported once the collector is back', async function () {
  var phone = harness.createPhone();
  phone.collector.isUp = false;
  var analytics = phone.start({ maxQueueSize: 50, flushAt: 1000, retryBaseMs: 1000, retryMaxMs: 1000 });
  for (var i = 0; i < 50; i += 1) {
    analytics.track('Product Viewed', { product_id: 'sku-' + i });
  }
  assert.deepEqual(analytics.stats().dropped, {}, 'nothing is dropped up to the cap');

  for (var j = 50; j < 62; j += 1) {
    analytics.track('Product Viewed', { product_id: 'sku-' + j });
  }
  assert.equal(analytics.stats().queued, 50);
  assert.deepEqual(analytics.stats().dropped, { queue_full: 12 });
  assert.equal(phone.storage.get('shoploop_queue')[0].properties.product_id, 'sku-12');
  assert.ok(
    phone.logger.lines.some(function (line) {
      return line.level === 'warn' && line.text.indexOf('queue full') !== -1;
    })
  );

  phone.collector.isUp = true;
  await phone.wait(10000);
  var viewed = phone.collector.delivered.filter(function (message) {
    return message.event === 'Product Viewed';
  });
  assert.equal(viewed[0].properties.product_id, 'sku-12');
  assert.equal(viewed.length, 50);
  var reports = phone.collector.delivered.filter(function (message) {
    return message.event === 'Tracking Events Dropped';
  });
  assert.equal(reports.length, 1);
  assert.deepEqual(reports[0].properties, { dropped_count: 12, reason: 'queue_full' });
});

test('the drop count survives a restart and is reported by the next instance', async function () {
  var phone = harness.createPhone();
  phone.collector.isUp = false;
  var first = phone.start({ maxQueueSize: 5, flushAt: 1000 });
  for (var i = 0; i < 8; i += 1) {
    first.track('Cart Viewed', { n: i });
  }
  phone.collector.isUp = true;
  var second = phone.start({ maxQueueSize: 5, flushAt: 1000 });
  await second.flush();
  await phone.wait(0);

  var reports = phone.collector.delivered.filter(function (message) {
    return message.event === 'Tracking Events Dropped';
  });
  assert.deepEqual(reports[0].properties, { dropped_count: 3, reason: 'queue_full' });
});

test('an event over 32 KB is dropped and counted instead of blocking its batch', async function () {
  var phone = harness.createPhone();
  var analytics = phone.start();
  analytics.track('Product Reviewed', { review_body: '好'.repeat(12000) });
  analytics.track('Product Reviewed', { review_body: '好喝' });
  await analytics.flush();
  await phone.wait(0);

  assert.deepEqual(analytics.stats().dropped, { event_too_large: 1 });
  assert.deepEqual(phone.collector.deliveredEvents(), ['Product Reviewed', 'Tracking Events Dropped']);
  assert.equal(phone.collector.delivered[0].properties.review_body, '好喝');
});

test('when wx storage refuses the queue, tracking goes on from memory', async function () {
  var phone = harness.createPhone();
  var analytics = phone.start({ flushAt: 1000 });
  phone.env.wx.setStorageSync = function () {
    throw new Error('setStorageSync:fail exceed storage max size 10MB');
  };
  analytics.track('Cart Viewed', {});
  await analytics.flush();
  assert.deepEqual(phone.collector.deliveredEvents(), ['Cart Viewed']);
});
