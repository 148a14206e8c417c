import jupyterhub from 'k6/x/jupyterhub';

export default function () {
  const a = jupyterhub.attendee({ username: 'x' };
}
