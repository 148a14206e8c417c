import { check } from 'k6';

function boom() {
  throw new Error('cannot initialize');
}

boom();

export default function () {}
