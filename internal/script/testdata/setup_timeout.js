import { sleep } from 'k6';

export const options = { iterations: 1, setupTimeout: '1s' };

export function setup() {
  sleep(30);
}

export default function () {}
