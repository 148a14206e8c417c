package fleet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"strings"
)

// labPage renders /lab and /tree: JupyterLab's page shape (a
// jupyter-config-data script with the page config, then script payload)
// padded to the configured size with JS-like filler, shared by all pages.
type labPage struct {
	size   int
	filler []byte
}

func newLabPage(size int) *labPage {
	return &labPage{size: size, filler: makeFiller(size)}
}

// makeFiller returns n bytes of varied, minified-JS-looking text
// (deterministic; a 64-bit LCG picks identifiers and numbers).
func makeFiller(n int) []byte {
	var b bytes.Buffer
	b.Grow(n + 128)
	x := uint64(0x2545F4914F6CDD1D)
	next := func() uint64 {
		x = x*6364136223846793005 + 1442695040888963407
		return x >> 33
	}
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "(self.webpackChunk_jupyterlab=self.webpackChunk_jupyterlab||[]).push([[%d],{%d:(e,t,n)=>{\"use strict\";n.d(t,{a:()=>r%x});const r%x=e=>e.map(o=>o+%d).filter(Boolean);}}]);\n",
			next()%9000+100, next()%90000+1000, next(), next(), next()%997)
	}
	return b.Bytes()[:n]
}

// render writes the page for inst, with the page config JupyterLab and
// jupyterhub-singleuser put in it (including the user's API token, as
// JupyterHubIdentityProvider.page_config_hook does).
func (p *labPage) render(w http.ResponseWriter, inst *instance, user, token, treePath string) {
	cfg := map[string]any{
		"appName":            "JupyterLab",
		"appNamespace":       "lab",
		"appVersion":         "4.4.0",
		"baseUrl":            inst.reg.BaseURL,
		"wsUrl":              "",
		"token":              token,
		"treePath":           treePath,
		"defaultWorkspace":   "default",
		"exposeAppInBrowser": false,
		"terminalsAvailable": false,
		"hubUser":            user,
		"hubServerUser":      inst.reg.User,
		"hubServerName":      inst.reg.ServerName,
		"hubPrefix":          inst.reg.HubPrefix,
		"hubHost":            inst.reg.HubHost,
		"shareUrl":           inst.reg.HubPrefix + "user-redirect",
		"fullStaticUrl":      inst.reg.BaseURL + "static/lab",
		"fullAppUrl":         inst.reg.BaseURL + "lab",
	}
	cj, _ := json.Marshal(cfg)
	var b bytes.Buffer
	b.Grow(p.size + len(cj) + 512)
	b.WriteString("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>JupyterLab</title>\n")
	b.WriteString("<script id=\"jupyter-config-data\" type=\"application/json\">")
	// </ must not end the script element early
	b.WriteString(strings.ReplaceAll(string(cj), "</", "<\\/"))
	b.WriteString("</script>\n<script>\n")
	tail := "</script>\n</head>\n<body>\n<noscript>JupyterLab needs JavaScript (" + html.EscapeString(inst.reg.BaseURL) + ").</noscript>\n</body>\n</html>\n"
	if pad := p.size - b.Len() - len(tail); pad > 0 {
		b.Write(p.filler[:min(pad, len(p.filler))])
	}
	b.WriteString(tail)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=UTF-8")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	w.Write(b.Bytes())
}
