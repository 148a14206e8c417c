// Package kernel speaks the Jupyter kernel websocket protocol that
// jupyter_server exposes at /api/kernels/{id}/channels: the wire codecs (the
// binary "v1.kernel.websocket.jupyter.org" subprotocol and the legacy JSON
// text frames) and a client that runs code on a kernel and measures it.
//
// The codec is shared with the fleet (a Go stand-in for jupyter_server), so
// it follows jupyter_server's serialize_msg_to_ws_v1 and
// deserialize_msg_from_ws_v1 (jupyter_server/services/kernels/connection/base.py)
// byte for byte.
package kernel
