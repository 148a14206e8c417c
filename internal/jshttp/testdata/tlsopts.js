import http from 'k6/http';
import { check } from 'k6';
export const options = {
  iterations: 1, insecureSkipTLSVerify: true,
  tlsVersion: { min: 'tls1.2', max: 'tls1.2' },
  tlsCipherSuites: ['TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256'],
};
export default function () {
  const r = http.get(`${__ENV.BASE_TLS}/get`);
  check(r, {
    'status 200': (r) => r.status === 200,
    'TLS 1.2 as asked': (r) => r.tls_version === http.TLS_1_2,
    'cipher suite as asked': (r) => r.tls_cipher_suite.endsWith('_WITH_AES_128_GCM_SHA256'),
  });
}
