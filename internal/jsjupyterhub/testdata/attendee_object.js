import jupyterhub from 'k6/x/jupyterhub';
import { check } from 'k6';

export const options = { iterations: 1 };

export default function () {
  const a = jupyterhub.attendee({ username: 'hubcap-obj', hubURL: 'http://127.0.0.1:1' });
  const keys = Object.keys(a);
  a.note = 'mine';
  const kept = a.note;
  const hasNote = 'note' in a && Object.keys(a).includes('note');
  delete a.logout;
  check(a, {
    'every method is listed': () => ['login', 'spawn', 'oauth', 'execute', 'journey', 'close', 'username', 'kernelId'].every((k) => keys.includes(k)),
    'methods are functions': () => typeof a.login === 'function' && typeof a.execute === 'function',
    'the same function each time': () => a.login === a.login && a.execute === a.execute,
    'methods work': () => a.username() === 'hubcap-obj' && a.kernelId() === '',
    'in finds methods': () => 'spawn' in a && !('nonesuch' in a),
    'a property of the script': () => kept === 'mine' && hasNote,
    'deleted method gone': () => a.logout === undefined && !Object.keys(a).includes('logout'),
  });
}
