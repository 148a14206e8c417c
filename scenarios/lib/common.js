// Helpers shared by the scenarios in this directory: parameters from __ENV,
// durations, the scenario-info point the capacity report reads, and phase
// steps that record a check instead of throwing.
import { check } from 'k6';
import { Gauge } from 'k6/metrics';
import jupyterhub from 'k6/x/jupyterhub';

// hubcap_scenario_info: one point (value 1) whose upper-case tags are the
// scenario's parameters, and whose tags script, family and hub_version say
// which scenario ran, what it plans for and which JupyterHub answered
// (see internal/capreport). Declared here, in the init context.
const scenarioInfo = new Gauge('hubcap_scenario_info');

// Parameter readers: the value of __ENV[name], else the default.
export function str(name, dflt) {
  const v = __ENV[name];
  return v === undefined || v === '' ? dflt : String(v);
}

export function num(name, dflt, { min = -Infinity, max = Infinity } = {}) {
  const raw = __ENV[name];
  if (raw === undefined || raw === '') {
    return dflt;
  }
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min || v > max) {
    throw new Error(`${name}=${raw}: want a number in [${min}, ${max}]`);
  }
  return v;
}

export function bool(name, dflt) {
  const raw = __ENV[name];
  if (raw === undefined || raw === '') {
    return dflt;
  }
  return !['0', 'false', 'no', 'off'].includes(String(raw).toLowerCase());
}

// seconds parses a k6 duration ("90s", "1h30m", "250ms", "2.5m") or a bare
// number of seconds.
export function seconds(text) {
  const s = String(text).trim();
  if (/^\d+(\.\d+)?$/.test(s)) {
    return Number(s);
  }
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  const unit = { h: 3600, m: 60, s: 1, ms: 0.001 };
  let total = 0;
  let seen = '';
  let m;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * unit[m[2]];
    seen += m[0];
  }
  if (seen !== s || seen === '') {
    throw new Error(`"${text}" is not a duration like 90s, 15m or 1h30m`);
  }
  return total;
}

// dur reads a duration parameter in seconds.
export function dur(name, dflt) {
  const v = str(name, dflt);
  try {
    return seconds(v);
  } catch (e) {
    throw new Error(`${name}=${v}: ${e.message}`);
  }
}

// k6d writes seconds as a k6 duration string (whole milliseconds).
export function k6d(secs) {
  return `${Math.max(1, Math.round(secs * 1000))}ms`;
}

// recordInfo adds the scenario-info point; call it from setup(). The hub's
// version is asked for when an admin client is available.
export function recordInfo(script, family, params) {
  const tags = { script: script, family: family };
  for (const [k, v] of Object.entries(params)) {
    tags[k] = String(v);
  }
  try {
    tags.hub_version = jupyterhub.version().version;
  } catch (e) {
    console.warn(`hub version unknown: ${e.message || e}`);
  }
  scenarioInfo.add(1, tags);
  return tags;
}

// step runs one phase of an attendee. A failure is recorded as a failed
// check named after the phase (the module has already counted the error
// with its phase and status) and returns false instead of throwing, so the
// attendee can give up cleanly.
export function step(name, fn) {
  try {
    fn();
    check(true, { [name]: (ok) => ok });
    return true;
  } catch (e) {
    check(false, { [name]: (ok) => ok });
    console.warn(`${name}: ${e.message || e}`);
    return false;
  }
}

// jittered returns secs × a uniform factor in [1 − spread, 1 + spread].
export function jittered(secs, spread) {
  return secs * (1 - spread + 2 * spread * Math.random());
}
