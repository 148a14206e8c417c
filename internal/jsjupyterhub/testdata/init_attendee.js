// Attendees may be made in the init context, but not used there.
import jupyterhub from 'k6/x/jupyterhub';

const a = jupyterhub.attendee({ username: 'hubcap-init', password: 'x' });
a.login();

export default function () {}
