"""FleetSpawner: a JupyterHub spawner backed by hubcap's fleet.

hubcap's fleet is one Go HTTP server that stands in for thousands of
jupyter_server single-user servers. This spawner registers each server with
the fleet instead of starting a process, so the Hub, its database, the proxy
and the OAuth flow are all real while the servers cost almost nothing.

Protocol (docs/contracts.md, "Fleet <-> spawner protocol"):

- start(): PUT  {fleet}/_fleet/servers/{user}/{server}  -> {"url": ...}
- poll():  GET  {fleet}/_fleet/servers/{user}/{server}  -> 200 running, 404 gone
- stop():  DELETE {fleet}/_fleet/servers/{user}/{server}
  ({server} is "_default" for the default server; both path segments are
  percent-encoded.)

The fleet URL and its secret come from the Hub's environment,
HUBCAP_FLEET_URL and HUBCAP_FLEET_SECRET; they are never put in argv,
logs, spawner state or user options.

get_state() carries what KubeSpawner stores (pod_name, namespace, dns_name)
plus padding up to `state_bytes`, and start() fills `user_options` with a
profile when the spawn request gave none, so that spawner rows have a
realistic size (every byte of a spawner row is multiplied in the Hub's
start-up join of 5.0-5.3).

Compatible with JupyterHub 4.1 to 6.x (only the public Spawner API is used).
"""

import asyncio
import json
import os
import re
from urllib.parse import quote

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from traitlets import Float, Integer, Unicode

from jupyterhub.spawner import Spawner
from jupyterhub.utils import url_path_join

try:
    from jupyterhub._version import __version__ as _hub_version
except Exception:  # pragma: no cover - very old hubs
    _hub_version = ""

_ENV_URL = "HUBCAP_FLEET_URL"
_ENV_SECRET = "HUBCAP_FLEET_SECRET"

# One client for all spawners, with bounded concurrency towards the fleet.
# Requests wait for a slot in _slots (without a timeout), never in tornado's
# own queue: tornado fails a request that waited there longer than its
# timeout ("Timeout in request queue"), which a hub spawning thousands of
# servers at its concurrent_spawn_limit while polling the running ones
# reaches; the fleet itself answers in microseconds.
_client = None
_slots = None


def _http(max_connections):
    global _client, _slots
    if _client is None:
        _client = AsyncHTTPClient(force_instance=True, max_clients=max_connections)
        _slots = asyncio.Semaphore(max_connections)
    return _client, _slots


def _k8s_safe(name):
    """Escape a name the way KubeSpawner makes pod names safe (roughly):
    lowercase letters, digits and '-' stay, anything else becomes -XX."""
    out = []
    for ch in name:
        if re.fullmatch(r"[a-z0-9]", ch):
            out.append(ch)
        else:
            out.append("".join("-%02x" % b for b in ch.encode("utf-8")))
    return "".join(out)


class FleetError(Exception):
    """The fleet refused or could not be reached."""


class FleetSpawner(Spawner):
    """Spawner whose single-user servers are simulated by hubcap's fleet."""

    state_bytes = Integer(
        512,
        help="Size in bytes of the JSON state stored in the spawners table (KubeSpawner-like fields plus padding).",
    ).tag(config=True)

    user_options_bytes = Integer(
        0,
        help="Extra padding in bytes added to the default user_options (set only when a spawn request gives none).",
    ).tag(config=True)

    default_profile = Unicode(
        "workshop",
        help="Profile slug put in user_options when a spawn request gives none.",
    ).tag(config=True)

    default_image = Unicode(
        "quay.io/jupyter/scipy-notebook:2025-03-17",
        help="Image put in user_options when a spawn request gives none.",
    ).tag(config=True)

    namespace = Unicode(
        "jhub",
        help="Kubernetes namespace recorded in the state (as KubeSpawner would).",
    ).tag(config=True)

    poll_failures_before_gone = Integer(
        3,
        help="Consecutive failed polls (fleet unreachable or 5xx) before poll() reports the server as stopped. "
        "A 404 from the fleet reports it stopped at once.",
    ).tag(config=True)

    fleet_timeout = Float(
        30.0,
        help="Timeout in seconds of each request to the fleet, once it has a connection "
        "(waiting for one of the fleet_max_connections does not time out).",
    ).tag(config=True)

    fleet_max_connections = Integer(
        256,
        help="Requests to the fleet in flight at once, for all spawners of the hub (read once, "
        "by the first request).",
    ).tag(config=True)

    pod_name = Unicode("")
    dns_name = Unicode("")
    _poll_failures = 0
    _starting = False

    # -- helpers -----------------------------------------------------------

    def _fleet(self):
        url = os.environ.get(_ENV_URL, "").rstrip("/")
        secret = os.environ.get(_ENV_SECRET, "")
        if not url or not secret:
            raise FleetError(
                "%s and %s must be set in the Hub's environment; start the hub through hubcap"
                % (_ENV_URL, _ENV_SECRET)
            )
        return url, secret

    def _fleet_path(self):
        return "/_fleet/servers/%s/%s" % (
            quote(self.user.name, safe=""),
            quote(self.name or "_default", safe=""),
        )

    async def _request(self, method, body=None):
        url, secret = self._fleet()
        headers = {"Authorization": "Bearer " + secret}
        if body is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(body)
        req = HTTPRequest(
            url + self._fleet_path(),
            method=method,
            headers=headers,
            body=body,
            connect_timeout=self.fleet_timeout,
            request_timeout=self.fleet_timeout,
            follow_redirects=False,
        )
        client, slots = _http(self.fleet_max_connections)
        async with slots:
            return await client.fetch(req, raise_error=False)

    def _compute_names(self):
        user = _k8s_safe(self.user.name)
        if self.name:
            pod = "jupyter-%s--%s" % (user, _k8s_safe(self.name))
        else:
            pod = "jupyter-%s" % user
        self.pod_name = pod
        self.dns_name = "%s.%s.svc.cluster.local" % (pod, self.namespace)

    def _default_options(self):
        opts = {"profile": self.default_profile, "image": self.default_image}
        if self.user_options_bytes > 0:
            opts["hubcap_padding"] = "x" * self.user_options_bytes
        return opts

    # -- Spawner API ---------------------------------------------------------

    async def start(self):
        self._starting = True
        try:
            self._compute_names()
            if not self.user_options:
                opts = self._default_options()
                self.user_options = opts
                orm_spawner = getattr(self, "orm_spawner", None)
                if orm_spawner is not None:
                    # persisted with the Hub's next commit, as a form would be
                    orm_spawner.user_options = opts
            env = self.get_env()
            base_url = env.get("JUPYTERHUB_SERVICE_PREFIX") or (
                self.server.base_url if self.server else "/"
            )
            hub_base = env.get("JUPYTERHUB_BASE_URL") or "/"
            try:
                scopes = json.loads(env.get("JUPYTERHUB_OAUTH_ACCESS_SCOPES") or "[]")
            except ValueError:
                scopes = []
            body = {
                "user": self.user.name,
                "server_name": self.name,
                "base_url": base_url,
                "api_token": env.get("JUPYTERHUB_API_TOKEN") or self.api_token,
                "oauth_client_id": env.get("JUPYTERHUB_CLIENT_ID")
                or self.oauth_client_id,
                "oauth_callback_url": env.get("JUPYTERHUB_OAUTH_CALLBACK_URL", ""),
                "hub_api_url": env.get("JUPYTERHUB_API_URL", ""),
                "hub_host": env.get("JUPYTERHUB_HOST", ""),
                "hub_prefix": url_path_join(hub_base, "hub") + "/",
                "hub_version": _hub_version,
                "access_scopes": scopes,
                "activity_url": env.get("JUPYTERHUB_ACTIVITY_URL", ""),
                "user_options": self.user_options or {},
            }
            try:
                resp = await self._request("PUT", body)
            except Exception as e:
                raise FleetError(
                    "hubcap fleet unreachable at %s: %s" % (self._fleet()[0], e)
                ) from None
            if resp.code != 200:
                raise FleetError(
                    "hubcap fleet refused %s: HTTP %s %s"
                    % (self._log_name, resp.code, resp.body[:200].decode("utf8", "replace"))
                )
            self._poll_failures = 0
            return json.loads(resp.body)["url"]
        finally:
            self._starting = False

    async def poll(self):
        """None while the fleet has the server registered, 0 once it is gone.

        A 404 means gone at once. A fleet that cannot be reached (or answers
        5xx) counts as a failure; after `poll_failures_before_gone`
        consecutive failures the server is reported stopped, before that it
        is assumed to be running.
        """
        if self._starting:
            return None
        try:
            resp = await self._request("GET")
        except FleetError:
            raise
        except Exception as e:
            resp = None
            err = str(e)
        if resp is not None and resp.code == 200:
            self._poll_failures = 0
            return None
        if resp is not None and resp.code == 404:
            self._poll_failures = 0
            return 0
        if resp is not None:
            err = "HTTP %s" % resp.code
        self._poll_failures += 1
        self.log.warning(
            "hubcap fleet poll of %s failed (%d/%d): %s",
            self._log_name,
            self._poll_failures,
            self.poll_failures_before_gone,
            err,
        )
        if self._poll_failures >= self.poll_failures_before_gone:
            return 0
        return None

    async def stop(self, now=False):
        try:
            resp = await self._request("DELETE")
        except FleetError:
            raise
        except Exception as e:
            # the fleet is gone, so is the server
            self.log.warning("hubcap fleet unreachable stopping %s: %s", self._log_name, e)
            return
        if resp.code not in (200, 204, 404):
            raise FleetError("hubcap fleet refused to stop %s: HTTP %s" % (self._log_name, resp.code))

    def get_state(self):
        state = super().get_state()
        if not self.pod_name:
            return state
        state["pod_name"] = self.pod_name
        state["namespace"] = self.namespace
        state["dns_name"] = self.dns_name
        state["hubcap_padding"] = ""
        missing = self.state_bytes - len(json.dumps(state))
        if missing > 0:
            state["hubcap_padding"] = "x" * missing
        else:
            del state["hubcap_padding"]
        return state

    def load_state(self, state):
        super().load_state(state)
        self.pod_name = state.get("pod_name", "")
        self.dns_name = state.get("dns_name", "")
        if state.get("namespace"):
            self.namespace = state["namespace"]

    def clear_state(self):
        super().clear_state()
        self.pod_name = ""
        self.dns_name = ""
        self._poll_failures = 0
