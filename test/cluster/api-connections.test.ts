// The API client keeps its connections: on the real API server, many calls through one kubeconfig
// open one TLS connection (or a few, when calls overlap), not one each. client-node makes a new
// undici Agent per request; operator/kube/client.ts reuses one, and this fails without it.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { describe, it } from 'node:test';
import { NetworkingV1Api } from '@kubernetes/client-node';
import { ensureControlPlane } from '../helpers/cluster.ts';
import { loadKubeConfig } from '../../operator/kube/client.ts';

const CALLS = 30;

describe('API connections', () => {
  it(`makes ${CALLS} calls in a row over one connection`, async () => {
    const plane = await ensureControlPlane();
    const api = loadKubeConfig(plane.kubeconfigPath).makeApiClient(NetworkingV1Api);
    let connections = 0;
    const onConnected = (): void => {
      connections++;
    };
    subscribe('undici:client:connected', onConnected);
    try {
      for (let call = 0; call < CALLS; call++) await api.listIngressClass();
    } finally {
      unsubscribe('undici:client:connected', onConnected);
    }
    assert.equal(connections, 1, `${connections} TLS connections for ${CALLS} sequential calls`);
  });
});
