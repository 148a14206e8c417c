import http from 'k6/http';
import nope from 'k6/x/nope';

export default function () {}
