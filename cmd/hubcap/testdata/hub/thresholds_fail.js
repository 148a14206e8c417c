// A threshold no hub can meet: exit code 99 after a complete run.
import jupyterhub from 'k6/x/jupyterhub';

export const options = {
  iterations: 1,
  thresholds: { jupyterhub_login_duration: ['max<0.001'] },
};

export default function () {
  const a = jupyterhub.attendee({ username: `${jupyterhub.prefix()}${__ENV.RUN}`, password: 'any' });
  a.login();
  a.logout();
}
