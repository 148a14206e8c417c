import jupyterhub from 'k6/x/jupyterhub';
import { check } from 'k6';

export const options = { iterations: 1 };

export default function () {
  let msg = '';
  try {
    jupyterhub.attendee({ username: 'hubcap-x' });
  } catch (e) {
    msg = e.message;
  }
  check(null, {
    'no hub url': () => jupyterhub.hubURL() === '' && jupyterhub.prefix() === '',
    'attendee refused': () => msg.includes('no hub to talk to') && msg.includes('--hub'),
  });
}
