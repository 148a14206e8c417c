package main

// JavaScript modules of hubcap run, registered from their packages' init().
import (
	// k6/http: HTTP requests measured as k6 measures them.
	_ "github.com/hubcap-dev/hubcap/internal/jshttp"
	// k6/x/jupyterhub: the scripts' API to the hub.
	_ "github.com/hubcap-dev/hubcap/internal/jsjupyterhub"
)
