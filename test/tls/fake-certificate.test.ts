// The fake certificate Pier makes at start-up must always be valid DER, whatever random serial it draws.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createSecureContext as tlsContext } from 'node:tls';
import { FAKE_CERTIFICATE_COMMON_NAME, makeFakeCertificate } from '../../proxy/tls-fake-certificate.ts';

/** Enough draws that a 1-in-256 encoding bug would show up with near certainty (1 - (255/256)^2000 > 0.999). */
const DRAWS = 2000;

describe('the fake certificate', () => {
  it(`is valid DER and loads into a TLS context on each of ${DRAWS} draws`, () => {
    for (let i = 0; i < DRAWS; i++) {
      const pair = makeFakeCertificate(new Date());
      const certificate = new X509Certificate(pair.certificatePem);
      assert.match(certificate.subject, new RegExp(`CN=${FAKE_CERTIFICATE_COMMON_NAME}`));
      assert.doesNotThrow(() => tlsContext({ cert: pair.certificatePem, key: pair.keyPem }), `draw ${i}, serial ${certificate.serialNumber}`);
    }
  });
});
