// A hub call at the top level of the script, which runs once per VU to
// initialize it: refused.
import jupyterhub from 'k6/x/jupyterhub';

const users = jupyterhub.admin.users();

export default function () {}
