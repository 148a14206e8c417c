// Every call here fails; each check says the exception carries the Go
// error's message.
import jupyterhub from 'k6/x/jupyterhub';
import { check } from 'k6';

export const options = { iterations: 1 };

function thrown(f) {
  try {
    f();
  } catch (e) {
    return String(e.message || e);
  }
  return 'no exception';
}

export default function () {
  const msgs = {
    unknownOption: thrown(() => jupyterhub.attendee({ usrname: 'x', hubURL: 'http://127.0.0.1:1' })),
    badType: thrown(() => jupyterhub.attendee({ username: 'x', removeServer: 'yes', hubURL: 'http://127.0.0.1:1' })),
    badSpawn: thrown(() => jupyterhub.attendee({ username: 'x', spawn: 'teleport', hubURL: 'http://127.0.0.1:1' })),
    badPhase: thrown(() => jupyterhub.attendee({ username: 'x', timeouts: { lunch: '1s' }, hubURL: 'http://127.0.0.1:1' })),
    admin: thrown(() => jupyterhub.admin.users()),
    stopOpts: thrown(() => jupyterhub.admin.stopServer('u', 's', { remvoe: true })),
    executeUnconnected: thrown(() => jupyterhub.attendee({ username: 'x', hubURL: 'http://127.0.0.1:1' }).execute('1+1')),
    executeOpts: thrown(() => jupyterhub.attendee({ username: 'x', hubURL: 'http://127.0.0.1:1' }).execute('1+1', { expcet: '2' })),
    executeBadOpts: thrown(() => jupyterhub.attendee({ username: 'x', hubURL: 'http://127.0.0.1:1' }).execute('1+1', 3)),
  };
  console.log(JSON.stringify(msgs));
  check(msgs, {
    'unknown option named': (m) => m.unknownOption.includes('unknown option "usrname"'),
    'bad type named': (m) => m.badType.includes('removeServer must be true or false, not a string'),
    'bad spawn named': (m) => m.badSpawn.includes('spawn must be "browser" or "api"'),
    'bad phase named': (m) => m.badPhase.includes('"lunch"'),
    'admin error': (m) => m.admin.includes(__ENV.WANT_ADMIN),
    'stop options': (m) => m.stopOpts.includes('unknown option "remvoe"'),
    'execute without a kernel': (m) => m.executeUnconnected.includes('call ConnectKernel first'),
    'execute options named': (m) => m.executeOpts.includes('unknown option "expcet"'),
    'execute options type': (m) => m.executeBadOpts.includes('could not convert function call parameter 1'),
  });
}
