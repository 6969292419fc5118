'use strict';

// The SDK's only door to wx storage. Storage can throw (quota full, 1 MB per key), and losing the
// on-disk copy must never stop tracking, so failures are logged and reported as false.
function createStorage(wx, logger) {
  return {
    get: function (key) {
      try {
        var value = wx.getStorageSync(key);
        // wx.getStorageSync answers '' for a key that was never set.
        return value === '' ? undefined : value;
      } catch (error) {
        logger.warn('[shoploop] cannot read ' + key + ' from wx storage', error);
        return undefined;
      }
    },
    set: function (key, value) {
      try {
        wx.setStorageSync(key, value);
        return true;
      } catch (error) {
        logger.warn('[shoploop] cannot write ' + key + ' to wx storage', error);
        return false;
      }
    },
    remove: function (key) {
      try {
        wx.removeStorageSync(key);
      } catch (error) {
        logger.warn('[shoploop] cannot remove ' + key + ' from wx storage', error);
      }
    },
  };
}

module.exports = { createStorage: createStorage };
