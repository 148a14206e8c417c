// The hub refuses the admin call: the exception says why and what to do,
// and never carries the token.
import jupyterhub from 'k6/x/jupyterhub';
import { check } from 'k6';

export const options = { iterations: 1 };

export default function () {
  let msg = '';
  try {
    jupyterhub.admin.createUsers(['hubcap-a']);
  } catch (e) {
    msg = e.message;
  }
  console.log(msg);
  check(msg, {
    'status and scope': (m) => m.includes('403') && m.includes('admin:users'),
  });
}
